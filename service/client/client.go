// Package client is the Go client of the xebpf daemon (xebpf daemon): it
// mirrors the daemon's API, one method per operation. A Client is one
// session: the programs and maps it loads or creates are held until the
// Client is closed (or Release drops them), unless something else holds
// them — a pin, another session, or a program that uses a map.
package client

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/xebpf/xebpf/service/proto"
)

// EnvSocket names the environment variable holding the daemon's socket.
const EnvSocket = "XEBPF_SOCKET"

// Default paths of the daemon's socket and state directory for root.
const (
	RootSocket   = "/run/xebpf/xebpf.sock"
	RootStateDir = "/var/lib/xebpf"
)

// DefaultSocket is the socket a daemon listens on and a client dials by
// default: RootSocket for root; for other users
// $XDG_RUNTIME_DIR/xebpf/xebpf.sock, or xebpf-UID/xebpf.sock in the
// temporary directory without XDG_RUNTIME_DIR.
func DefaultSocket() string {
	if os.Geteuid() == 0 {
		return RootSocket
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "xebpf", "xebpf.sock")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("xebpf-%d", os.Geteuid()), "xebpf.sock")
}

// DefaultStateDir is the daemon's default state directory: RootStateDir
// for root; for other users $XDG_STATE_HOME/xebpf, or
// ~/.local/state/xebpf.
func DefaultStateDir() string {
	if os.Geteuid() == 0 {
		return RootStateDir
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "xebpf")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "xebpf")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("xebpf-%d", os.Geteuid()), "state")
}

// SocketPath returns the socket to dial: flag if set, else $XEBPF_SOCKET,
// else DefaultSocket.
func SocketPath(flag string) string {
	if flag != "" {
		return flag
	}
	if s := os.Getenv(EnvSocket); s != "" {
		return s
	}
	return DefaultSocket()
}

// Client is a session with the daemon. Its methods are safe for
// concurrent use; calls are served one at a time.
type Client struct {
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
}

// Dial connects to the daemon's unix socket at path.
func Dial(path string) (*Client, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to the xebpf daemon at %s (start it with xebpf daemon, or set --socket or %s): %w", path, EnvSocket, err)
	}
	return NewClient(c), nil
}

// NewClient returns a client speaking over an established connection.
func NewClient(c net.Conn) *Client {
	return &Client{conn: c, r: bufio.NewReaderSize(c, 64<<10)}
}

// Close ends the session: the daemon drops what it holds.
func (c *Client) Close() error {
	// Half-close and wait for the daemon to end the stream: it closes
	// the connection after it has released the session's objects, so
	// that what a finished command did not pin is gone when it exits.
	if cw, ok := c.conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		c.conn.SetReadDeadline(time.Now().Add(closeWait))
		io.Copy(io.Discard, c.conn)
	}
	return c.conn.Close()
}

// closeWait bounds how long Close waits for the daemon to release the
// session.
const closeWait = 5 * time.Second

// call performs one request; errors from the daemon are *proto.Error.
func (c *Client) call(op string, args, result any) error {
	req := proto.Request{Op: op}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		req.Args = b
	}
	b, err := json.Marshal(&req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(b) >= proto.MaxRequest {
		return fmt.Errorf("%s: request of %d bytes: the daemon takes at most %d: %w", op, len(b), proto.MaxRequest, proto.ErrInvalid)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("%s: read the daemon's answer: %w", op, err)
	}
	var resp proto.Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return fmt.Errorf("%s: malformed answer: %w", op, err)
	}
	if resp.Error != nil {
		return resp.Error
	}
	if result != nil && len(resp.Result) > 0 {
		if err := json.Unmarshal(resp.Result, result); err != nil {
			return fmt.Errorf("%s: malformed result: %w", op, err)
		}
	}
	return nil
}

// Status returns the daemon's accounting.
func (c *Client) Status() (*proto.StatusResult, error) {
	var r proto.StatusResult
	return &r, c.call(proto.OpStatus, nil, &r)
}

// Load loads an ELF object, held by the session and pinned as args says.
func (c *Client) Load(args *proto.LoadArgs) (*proto.LoadResult, error) {
	var r proto.LoadResult
	if err := c.call(proto.OpProgLoad, args, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Programs lists the programs ref names (all for the zero Ref).
func (c *Client) Programs(ref proto.Ref) ([]proto.ProgInfo, error) {
	var r []proto.ProgInfo
	return r, c.call(proto.OpProgShow, &proto.RefArgs{Ref: ref}, &r)
}

// Maps lists the maps ref names (all for the zero Ref).
func (c *Client) Maps(ref proto.Ref) ([]proto.MapInfo, error) {
	var r []proto.MapInfo
	return r, c.call(proto.OpMapShow, &proto.RefArgs{Ref: ref}, &r)
}

// Dump returns a program's instructions.
func (c *Client) Dump(ref proto.Ref) ([]proto.Insn, error) {
	var r proto.DumpResult
	return r.Insns, c.call(proto.OpProgDump, &proto.RefArgs{Ref: ref}, &r)
}

// Run runs a program as BPF_PROG_TEST_RUN.
func (c *Client) Run(args *proto.RunArgs) (*proto.RunResult, error) {
	var r proto.RunResult
	if err := c.call(proto.OpProgRun, args, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// PinProgram pins a program at path.
func (c *Client) PinProgram(ref proto.Ref, path string) error {
	return c.call(proto.OpProgPin, &proto.PinArgs{Ref: ref, Path: path}, nil)
}

// PinMap pins a map at path.
func (c *Client) PinMap(ref proto.Ref, path string) error {
	return c.call(proto.OpMapPin, &proto.PinArgs{Ref: ref, Path: path}, nil)
}

// Unpin removes the pin at path.
func (c *Client) Unpin(path string) error {
	return c.call(proto.OpUnpin, &proto.PathArgs{Path: path}, nil)
}

// DumpMap returns a map's description and elements.
func (c *Client) DumpMap(ref proto.Ref) (*proto.DumpMapResult, error) {
	var r proto.DumpMapResult
	if err := c.call(proto.OpMapDump, &proto.RefArgs{Ref: ref}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Lookup returns the element of key; Found is false when there is none.
func (c *Client) Lookup(ref proto.Ref, key []byte) (*proto.LookupResult, error) {
	var r proto.LookupResult
	if err := c.call(proto.OpMapLookup, &proto.MapElemArgs{Ref: ref, Key: key}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Update sets key's value with flags (proto.UpdateAny, UpdateNoExist,
// UpdateExist).
func (c *Client) Update(ref proto.Ref, key, value []byte, flags uint64) error {
	return c.call(proto.OpMapUpdate, &proto.MapElemArgs{Ref: ref, Key: key, Value: value, Flags: flags}, nil)
}

// Delete deletes key.
func (c *Client) Delete(ref proto.Ref, key []byte) error {
	return c.call(proto.OpMapDelete, &proto.MapElemArgs{Ref: ref, Key: key}, nil)
}

// NextKey returns the key after key (the first for nil); Found is false
// at the end.
func (c *Client) NextKey(ref proto.Ref, key []byte) (*proto.NextKeyResult, error) {
	var r proto.NextKeyResult
	if err := c.call(proto.OpMapGetNext, &proto.MapElemArgs{Ref: ref, Key: key}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// CreateMap creates a map and pins it.
func (c *Client) CreateMap(args *proto.MapCreateArgs) (*proto.MapInfo, error) {
	var r proto.MapInfo
	if err := c.call(proto.OpMapCreate, args, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Attach attaches a program to a hook of a kind the daemon has a provider
// for (LinkProvider); the session holds the link.
func (c *Client) Attach(kind string, prog proto.Ref, target string) (*proto.LinkInfo, error) {
	var r proto.LinkInfo
	if err := c.call(proto.OpLinkAttach, &proto.LinkAttachArgs{Kind: kind, Prog: prog, Target: target}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Links lists the links ref names (by id or pin; all for the zero Ref).
func (c *Client) Links(ref proto.Ref) ([]proto.LinkInfo, error) {
	var r []proto.LinkInfo
	return r, c.call(proto.OpLinkShow, &proto.LinkRefArgs{Ref: ref}, &r)
}

// PinLink pins a link at path.
func (c *Client) PinLink(ref proto.Ref, path string) error {
	return c.call(proto.OpLinkPin, &proto.LinkPinArgs{Ref: ref, Path: path}, nil)
}

// Detach detaches a link: its program stops running at the hook.
func (c *Client) Detach(ref proto.Ref) error {
	return c.call(proto.OpLinkDetach, &proto.LinkDetachArgs{Ref: ref}, nil)
}

// Release drops the session's handle on a program ("prog"), map ("map") or
// link ("link").
func (c *Client) Release(kind string, id uint32) error {
	return c.call(proto.OpRelease, &proto.ReleaseArgs{Kind: kind, ID: id}, nil)
}

// UpdateProg puts the program prog in the slot key of the program array
// ref (bpftool's map update MAP key BYTES value PROG).
func (c *Client) UpdateProg(ref proto.Ref, key []byte, prog proto.Ref) error {
	return c.call(proto.OpMapUpdate, &proto.MapElemArgs{Ref: ref, Key: key, ValueProg: &prog}, nil)
}

// UpdateMap puts the inner map inner in the slot key of the map of maps
// ref (bpftool's map update MAP key BYTES value MAP), with flags
// (proto.UpdateAny; a hash of maps also takes UpdateNoExist and
// UpdateExist).
func (c *Client) UpdateMap(ref proto.Ref, key []byte, inner proto.Ref, flags uint64) error {
	return c.call(proto.OpMapUpdate, &proto.MapElemArgs{Ref: ref, Key: key, ValueMap: &inner, Flags: flags}, nil)
}

// Pop takes the next value out of the queue or stack ref (bpftool's map
// pop); Found is false when it is empty. Push is Update with a nil key,
// peek Lookup with a nil key.
func (c *Client) Pop(ref proto.Ref) (*proto.LookupResult, error) {
	var r proto.LookupResult
	if err := c.call(proto.OpMapPop, &proto.MapElemArgs{Ref: ref}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
