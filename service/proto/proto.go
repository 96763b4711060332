// Package proto is the wire protocol between the xebpf daemon and its
// clients: newline-delimited JSON requests and responses over a stream
// connection (a unix socket; a Windows named pipe later), one request at a
// time per connection. A connection is a session: the objects a request
// loads or creates are held by it until it closes.
package proto

import (
	"encoding/json"
	"errors"
	"fmt"
)

// MaxRequest is the largest request line the daemon reads, in bytes: an
// object file travels inside its request.
const MaxRequest = 64 << 20

// Operations a Request names.
const (
	OpStatus     = "status"
	OpProgLoad   = "prog.load"
	OpProgShow   = "prog.show"
	OpProgDump   = "prog.dump"
	OpProgRun    = "prog.run"
	OpProgPin    = "prog.pin"
	OpMapShow    = "map.show"
	OpMapDump    = "map.dump"
	OpMapLookup  = "map.lookup"
	OpMapUpdate  = "map.update"
	OpMapDelete  = "map.delete"
	OpMapGetNext = "map.getnext"
	OpMapCreate  = "map.create"
	OpMapPin     = "map.pin"
	// OpMapPop takes the next value out of a queue or a stack (bpftool's
	// map pop and dequeue); its arguments are a MapElemArgs without a key
	// and its result a LookupResult, Found false when the map is empty.
	OpMapPop     = "map.pop"
	OpUnpin      = "unpin"
	OpRelease    = "release"
	OpLinkAttach = "link.attach"
	OpLinkShow   = "link.show"
	OpLinkPin    = "link.pin"
	OpLinkDetach = "link.detach"
)

// Request is one call: an operation and its arguments, a JSON object whose
// shape the operation decides.
type Request struct {
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args,omitempty"`
}

// Response answers a Request: Result on success, Error otherwise.
type Response struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// Error codes of Error.Code, which clients map to sentinel errors.
const (
	CodeInvalid    = "invalid"           // a malformed request or argument
	CodeNotFound   = "not_found"         // no object, pin or key of that name
	CodeExist      = "exist"             // the pin path or key exists
	CodePermission = "permission_denied" // the peer may not do that
	CodeAmbiguous  = "ambiguous"         // a name matches several objects
	CodeInternal   = "internal"          // anything else: loading, verifying, running
)

// Error is a failed call's error.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Sentinel errors an *Error matches with errors.Is by its code.
var (
	ErrInvalid    = errors.New("invalid request")
	ErrNotFound   = errors.New("not found")
	ErrExist      = errors.New("exists")
	ErrPermission = errors.New("permission denied")
	ErrAmbiguous  = errors.New("ambiguous name")
)

// Is matches the sentinel of the error's code.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case CodeInvalid:
		return target == ErrInvalid
	case CodeNotFound:
		return target == ErrNotFound
	case CodeExist:
		return target == ErrExist
	case CodePermission:
		return target == ErrPermission
	case CodeAmbiguous:
		return target == ErrAmbiguous
	}
	return false
}

// Errorf returns an *Error of the code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Ref names a program or a map as bpftool does: by id, by pin path or by
// name (which may match several objects). Exactly one is set.
type Ref struct {
	ID     uint32 `json:"id,omitempty"`
	Pinned string `json:"pinned,omitempty"`
	Name   string `json:"name,omitempty"`
}

// Valid reports whether exactly one way of naming is set.
func (r Ref) Valid() bool {
	n := 0
	if r.ID != 0 {
		n++
	}
	if r.Pinned != "" {
		n++
	}
	if r.Name != "" {
		n++
	}
	return n == 1
}

func (r Ref) String() string {
	switch {
	case r.ID != 0:
		return fmt.Sprintf("id %d", r.ID)
	case r.Pinned != "":
		return "pinned " + r.Pinned
	case r.Name != "":
		return "name " + r.Name
	}
	return "(no object)"
}

// ProgInfo describes a loaded program, with bpftool's field names.
type ProgInfo struct {
	ID   uint32 `json:"id"`
	Type string `json:"type"` // libbpf's name: xdp, socket_filter, ...
	Name string `json:"name"`
	// Tag is the SHA-1 of the instructions, map references zeroed, as
	// Linux's bpf_prog_calc_tag computes it: 8 bytes in hex.
	Tag           string   `json:"tag"`
	GPLCompatible bool     `json:"gpl_compatible"`
	RunTimeNs     uint64   `json:"run_time_ns"`
	RunCnt        uint64   `json:"run_cnt"`
	LoadedAt      int64    `json:"loaded_at"` // Unix seconds
	UID           uint32   `json:"uid"`
	BytesXlated   uint32   `json:"bytes_xlated"`
	MapIDs        []uint32 `json:"map_ids"`
	Pinned        []string `json:"pinned"`
}

// MapInfo describes a map, with bpftool's field names.
type MapInfo struct {
	ID           uint32   `json:"id"`
	Type         string   `json:"type"` // libbpf's name: hash, array, ...
	Name         string   `json:"name"`
	Flags        uint32   `json:"flags"`
	BytesKey     uint32   `json:"bytes_key"`
	BytesValue   uint32   `json:"bytes_value"`
	MaxEntries   uint32   `json:"max_entries"`
	BytesMemlock uint64   `json:"bytes_memlock"`
	Frozen       bool     `json:"frozen"`
	Pinned       []string `json:"pinned"`
	// PerCPU says that a value is one value per CPU.
	PerCPU bool `json:"per_cpu"`
}

// StatusResult is the daemon's accounting.
type StatusResult struct {
	Programs int `json:"programs"`
	Maps     int `json:"maps"`
	Links    int `json:"links"`
	Pins     int `json:"pins"`
	// Collections counts the loaded objects whose memory is not yet freed.
	Collections int `json:"collections"`
	// MemoryBytes is the memory those collections hold.
	MemoryBytes int64 `json:"memory_bytes"`
	// UnreturnedBytes is the memory collections still held when their
	// last program or map was freed: 0 when all of it was returned.
	UnreturnedBytes int64 `json:"unreturned_bytes"`
	// Handles counts the objects the calling session holds.
	Handles int `json:"handles"`
}

// LoadArgs loads an ELF object (bpftool prog load / loadall).
type LoadArgs struct {
	Object []byte `json:"object"`
	// Type overrides every program's type (bpftool's type TYPE).
	Type string `json:"type,omitempty"`
	// PinFirst pins the object's first program there (prog load PATH).
	PinFirst string `json:"pin_first,omitempty"`
	// PinAllDir pins every program as DIR/NAME (prog loadall DIR).
	PinAllDir string `json:"pin_all_dir,omitempty"`
	// PinMapsDir pins every map as DIR/NAME (pinmaps DIR).
	PinMapsDir string `json:"pin_maps_dir,omitempty"`
}

// LoadResult lists what a load created; the session holds it all.
type LoadResult struct {
	Programs []ProgInfo `json:"programs"`
	Maps     []MapInfo  `json:"maps"`
}

// RefArgs names one object, or all of them when Ref is the zero value and
// the operation lists.
type RefArgs struct {
	Ref Ref `json:"ref"`
}

// DumpResult is a program's instructions.
type DumpResult struct {
	Insns []Insn `json:"insns"`
}

// Insn is one instruction: its slot and its text in xebpf's assembly.
type Insn struct {
	PC     int    `json:"pc"`
	Disasm string `json:"disasm"`
}

// RunArgs runs a program once or Repeat times, as BPF_PROG_TEST_RUN.
type RunArgs struct {
	Ref    Ref    `json:"ref"`
	Data   []byte `json:"data,omitempty"`
	Ctx    []byte `json:"ctx,omitempty"`
	Repeat uint32 `json:"repeat,omitempty"`
	// DataOutSize is room for the packet after the run (0: the input's
	// length plus 256 bytes).
	DataOutSize uint32 `json:"data_out_size,omitempty"`
}

// RunResult is a run's outcome.
type RunResult struct {
	Retval     uint32 `json:"retval"`
	DurationNs int64  `json:"duration"`
	DataOut    []byte `json:"data_out,omitempty"`
	CtxOut     []byte `json:"ctx_out,omitempty"`
}

// PinArgs pins an object at Path.
type PinArgs struct {
	Ref  Ref    `json:"ref"`
	Path string `json:"path"`
}

// PathArgs names a pin.
type PathArgs struct {
	Path string `json:"path"`
}

// Update flags of MapElemArgs.Flags, as Linux's BPF_ANY, BPF_NOEXIST and
// BPF_EXIST.
const (
	UpdateAny     = 0
	UpdateNoExist = 1
	UpdateExist   = 2
)

// MapElemArgs is a lookup, update, delete or getnext on one key.
type MapElemArgs struct {
	Ref   Ref    `json:"ref"`
	Key   []byte `json:"key,omitempty"`
	Value []byte `json:"value,omitempty"`
	Flags uint64 `json:"flags,omitempty"`
	// ValueProg, in a map update of a program array, names the program
	// to put in the slot Key (instead of Value).
	ValueProg *Ref `json:"value_prog,omitempty"`
	// ValueMap, in a map update of a map of maps, names the inner map to
	// put in the slot Key (instead of Value): a map of any object, or
	// made by map create, that matches the outer map's inner map
	// template.
	ValueMap *Ref `json:"value_map,omitempty"`
}

// Entry is a map element. A per-CPU map's value has one entry per CPU in
// Values; other maps' is Value. A map of maps' value is the id of the
// inner map in its slot (4 bytes, in the daemon's byte order), as Linux
// reports the inner map's id.
type Entry struct {
	Key    []byte   `json:"key"`
	Value  []byte   `json:"value,omitempty"`
	Values [][]byte `json:"values,omitempty"`
}

// LookupResult is a lookup's element, Found false when there is no key.
type LookupResult struct {
	Found bool  `json:"found"`
	Entry Entry `json:"entry"`
}

// NextKeyResult is the key after the given one; Found is false at the end.
type NextKeyResult struct {
	Found bool   `json:"found"`
	Next  []byte `json:"next"`
}

// DumpMapResult is every element of a map.
type DumpMapResult struct {
	Info    MapInfo `json:"info"`
	Entries []Entry `json:"entries"`
}

// MapCreateArgs creates a map and pins it at Path (bpftool map create).
type MapCreateArgs struct {
	Path       string `json:"path"`
	Type       string `json:"type"`
	KeySize    uint32 `json:"key_size"`
	ValueSize  uint32 `json:"value_size"`
	MaxEntries uint32 `json:"max_entries"`
	Flags      uint32 `json:"flags,omitempty"`
	Name       string `json:"name"`
	// InnerMap names the map whose type, key and value sizes, max
	// entries and flags are the template of a map of maps' inner maps
	// (bpftool's inner_map); required for array_of_maps and
	// hash_of_maps, refused for other types.
	InnerMap *Ref `json:"inner_map,omitempty"`
}

// ReleaseArgs drops the session's handle on a program, map or link.
type ReleaseArgs struct {
	Kind string `json:"kind"` // "prog", "map" or "link"
	ID   uint32 `json:"id"`
}

// LinkAttachArgs attaches a program to a hook of a kind the daemon has a
// provider for; the session holds the link.
type LinkAttachArgs struct {
	Kind   string `json:"kind"` // "xdp", ...
	Prog   Ref    `json:"prog"`
	Target string `json:"target"` // for XDP, the device
}

// LinkInfo describes a link, with bpftool's field names where it has them.
type LinkInfo struct {
	ID     uint32 `json:"id"`
	Type   string `json:"type"`
	ProgID uint32 `json:"prog_id"` // 0 once detached
	// Target is what the program is attached to (for XDP, the device).
	Target string `json:"target"`
	// Ifindex is the index of the device of a link to a device's hook.
	Ifindex int      `json:"ifindex,omitempty"`
	Pinned  []string `json:"pinned"`
}

// LinkRefArgs names a link (by id or pin), or all of them for the zero
// Ref.
type LinkRefArgs struct {
	Ref Ref `json:"ref"`
}

// LinkPinArgs pins a link.
type LinkPinArgs struct {
	Ref  Ref    `json:"ref"`
	Path string `json:"path"`
}

// LinkDetachArgs detaches a link.
type LinkDetachArgs struct {
	Ref Ref `json:"ref"`
}
