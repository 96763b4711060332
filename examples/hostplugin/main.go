// Command hostplugin shows xebpf extending a Go daemon safely: the daemon
// declares its own program type — a context struct, a helper and the
// meaning of the return value — and runs an unmodified clang-built eBPF
// plug-in on every request.
package main

import (
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/api"
)

// requestType is the daemon's program type: r1 points to struct request.
var requestType = &xebpf.ProgramKind{
	Name: "request_filter",
	Context: &xebpf.Context{Name: "request", Size: 20, Fields: []xebpf.ContextField{
		{Name: "method", Offset: 0, Size: 4},
		{Name: "client_ip", Offset: 4, Size: 4},
		{Name: "path", Offset: 8, Size: 4, Kind: xebpf.PacketStart},
		{Name: "path_end", Offset: 12, Size: 4, Kind: xebpf.PacketEnd},
		{Name: "status", Offset: 16, Size: 4, Writable: true},
	}},
	// The daemon gives meaning to 0, 1 and 2: the verifier refuses a
	// plug-in that may return anything else.
	Returns: &[2]uint32{0, 2},
	Result: func(ret uint32) string {
		return [...]string{"allow", "deny", "throttle", "?"}[min(ret, 3)]
	},
}

// tokenBucket is the daemon state the host_tokens helper exposes.
type tokenBucket map[uint32]int

// helper returns host_tokens for a bucket.
func (b tokenBucket) helper(c *xebpf.HelperCall) (uint64, error) {
	ip := uint32(c.Args[0])
	if _, ok := b[ip]; !ok {
		b[ip] = 2 // tokens per client in this demo
	}
	if b[ip] == 0 {
		return uint64(1<<64 - 1), nil // -1
	}
	b[ip]--
	return uint64(b[ip]), nil
}

type request struct {
	method   uint32
	clientIP uint32
	path     string
}

func run(dir string) error {
	spec, err := xebpf.LoadCollectionSpec(filepath.Join(dir, "bpf", "filter.o"))
	if err != nil {
		return err
	}
	bucket := tokenBucket{}
	typ := *requestType
	typ.Helpers = map[int32]xebpf.Helper{1000: bucket.helper}
	// The verifier checks calls against the prototype: one scalar
	// argument, a scalar result.
	typ.Prototypes = map[int32]xebpf.HelperPrototype{1000: {Name: "host_tokens", Args: [5]api.ArgKind{api.ArgAnything}, Ret: api.RetInteger}}
	coll, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{
		Types: map[string]*xebpf.ProgramKind{"filter": &typ},
	})
	if err != nil {
		return err
	}
	defer coll.Close()
	filter := coll.Programs["filter"]
	for _, r := range []request{
		{1, 0x0a000001, "/index.html"},
		{2, 0x0a000001, "/admin/users"},
		{1, 0x0a000001, "/admin/users"},
		{1, 0x0a000001, "/index.html"},
		{1, 0x0a000002, "/index.html"},
	} {
		ctx := make([]byte, 20)
		binary.NativeEndian.PutUint32(ctx[0:], r.method)
		binary.NativeEndian.PutUint32(ctx[4:], r.clientIP)
		out := make([]byte, 20)
		opts := &xebpf.RunOptions{Context: ctx, ContextOut: out, Data: []byte(r.path)}
		ret, err := filter.Run(opts)
		if err != nil {
			return err
		}
		fmt.Printf("method %d from %#08x %-13s -> %s (status %d)\n", r.method, r.clientIP, r.path,
			typ.Result(ret), binary.NativeEndian.Uint32(out[16:]))
	}
	return nil
}

func main() {
	dir := "."
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := run(dir); err != nil {
		log.Fatal(err)
	}
}
