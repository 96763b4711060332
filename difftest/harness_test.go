package difftest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/kernel"
	"github.com/xebpf/xebpf/internal/mapfile"
	"github.com/xebpf/xebpf/maps"
)

// compile builds testdata/NAME.c with clang-19 into dir and returns the
// object's path. It skips the test when clang-19 is not installed.
func compile(t testing.TB, dir, name string) string {
	t.Helper()
	clang, err := exec.LookPath("clang-19")
	if err != nil {
		t.Skipf("clang-19 not installed (%v): cannot build testdata/%s.c", err, name)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name+".o")
	cmd := exec.Command(clang, "-target", "bpf", "-O2", "-g", "-Wall", "-Werror",
		"-I", filepath.Join(root, "include"), "-c", filepath.Join("testdata", name+".c"), "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang-19 %s.c: %v\n%s", name, err, msg)
	}
	return out
}

// engines is one object instantiated in xebpf and, when it can be, loaded
// into the kernel.
type engines struct {
	x     *xebpf.Collection
	k     *kernel.Collection // nil: xebpf only
	masks map[string][]kernel.ByteRange
}

// errSkipObject marks objects that one side cannot take at all.
var errSkipObject = errors.New("object not comparable")

// open instantiates the object at path in xebpf and, if withKernel, in the
// kernel. Errors wrap errSkipObject with the side that refused.
func open(path string, withKernel bool) (*engines, error) {
	spec, err := xebpf.LoadCollectionSpec(path)
	if err != nil {
		return nil, fmt.Errorf("%w: xebpf spec: %v", errSkipObject, err)
	}
	// Verified programs run fast, the others checked: both are compared.
	x, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Unverified: xebpf.RunUnverifiedChecked})
	if err != nil {
		return nil, fmt.Errorf("%w: xebpf instantiation: %v", errSkipObject, err)
	}
	e := &engines{x: x}
	if withKernel {
		k, err := kernel.Load(path, kernel.LoadOptions{})
		if err != nil {
			x.Close()
			return nil, fmt.Errorf("%w: kernel load: %v", errSkipObject, err)
		}
		e.k, e.masks = k, k.ValueMasks()
	}
	return e, nil
}

func (e *engines) close() {
	e.x.Close()
	if e.k != nil {
		e.k.Close()
	}
}

// outcome is one engine's result of one run.
type outcome struct {
	res kernel.RunResult
	err error
}

// run runs program on data (and ctx, when not nil) in both engines.
func (e *engines) run(program string, data, ctx []byte) (x, k outcome) {
	opts := &xebpf.RunOptions{Data: data, DataOut: make([]byte, len(data)+4096), Context: ctx}
	if ctx != nil {
		opts.ContextOut = make([]byte, len(ctx))
	}
	ret, err := e.x.Programs[program].Run(opts)
	x = outcome{res: kernel.RunResult{Retval: ret, DataOut: opts.DataOut, ContextOut: ctxOut(opts)}, err: err}
	if err != nil {
		x.res = kernel.RunResult{}
	}
	if e.k != nil {
		k.res, k.err = e.k.Run(program, kernel.RunInput{Data: data, Context: ctx})
	}
	return x, k
}

// dumpX returns xebpf's maps and consumes its ring buffers' records, as
// the kernel's DumpMaps does.
func (e *engines) dumpX() (map[string]kernel.MapState, error) {
	st, err := mapfile.Dump(e.x)
	if err != nil {
		return nil, err
	}
	for _, m := range e.x.Maps {
		if rb, ok := m.Underlying().(*maps.RingBufMap); ok {
			for {
				if _, ok := rb.Next(nil); !ok {
					break
				}
			}
		}
	}
	return st, nil
}

// diff compares one run's outcomes: return value, output packet and
// output context. It returns the differences as text.
func (e *engines) diff(x, k outcome) []string {
	switch {
	case x.err != nil && k.err != nil:
		return nil // both refused the input
	case x.err != nil:
		return []string{fmt.Sprintf("xebpf failed, the kernel returned %d: %v", k.res.Retval, x.err)}
	case k.err != nil:
		return []string{fmt.Sprintf("the kernel failed, xebpf returned %d: %v", x.res.Retval, k.err)}
	}
	return texts(kernel.Compare(kernel.Outcome{Result: k.res}, kernel.Outcome{Result: x.res}, kernel.CompareOptions{}))
}

// diffMaps compares every map of the two engines (values under the
// kernel's masks), consuming ring buffer records on both sides.
func (e *engines) diffMaps() []string { return texts(e.mapDiffs()) }

// unreadableTypes are the map types whose elements user space cannot look
// up in the kernel (BPF_MAP_LOOKUP_ELEM fails with EOPNOTSUPP): only their
// shape is compared.
var unreadableTypes = map[string]bool{
	"PerfEventArray": true, "XSKMap": true, "CGroupArray": true, "SockMap": true,
	"SockHash": true, "ReusePortSockArray": true,
}

// mapDiffs is diffMaps as kernel.Differences.
func (e *engines) mapDiffs() []kernel.Difference {
	km, err := e.k.DumpMaps()
	if err != nil {
		return []kernel.Difference{{Where: "maps", Detail: "kernel DumpMaps: " + err.Error()}}
	}
	xm, err := e.dumpX()
	if err != nil {
		return []kernel.Difference{{Where: "maps", Detail: "xebpf map dump: " + err.Error()}}
	}
	for name, x := range xm {
		k, ok := km[name]
		// cilium/ebpf may fold a read-only section into the program
		// instead of creating its map: constants nothing can change.
		if !ok && strings.HasPrefix(name, ".rodata") {
			delete(xm, name)
			continue
		}
		if ok && unreadableTypes[k.Type] && k.Error != "" {
			km[name] = shape(k)
			xm[name] = shape(x)
		}
	}
	return kernel.Compare(kernel.Outcome{Maps: km}, kernel.Outcome{Maps: xm}, kernel.CompareOptions{ValueMasks: e.masks})
}

// shape is a map state without its contents.
func shape(s kernel.MapState) kernel.MapState {
	return kernel.MapState{Type: s.Type, KeySize: s.KeySize, ValueSize: s.ValueSize, MaxEntries: s.MaxEntries}
}

func texts(ds []kernel.Difference) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

// report fails t with the differences, at most limit of them in full.
func report(t *testing.T, diffs []string, limit int) {
	t.Helper()
	if len(diffs) == 0 {
		return
	}
	shown := diffs
	if len(shown) > limit {
		shown = shown[:limit]
	}
	t.Errorf("%d differences with the kernel:\n\t%s", len(diffs), strings.Join(shown, "\n\t"))
	if len(diffs) > limit {
		t.Errorf("... and %d more", len(diffs)-limit)
	}
}

// sharedDir returns the shared data directory beside the repository root,
// or "" when it is absent.
func sharedDir() string {
	for _, d := range []string{"../../shared", "../shared"} {
		if st, err := os.Stat(filepath.Join(d, "corpus")); err == nil && st.IsDir() {
			return d
		}
	}
	return ""
}

// ctxOut returns the context after a run, nil when none was asked for.
func ctxOut(opts *xebpf.RunOptions) []byte {
	b, _ := opts.ContextOut.([]byte)
	return b
}
