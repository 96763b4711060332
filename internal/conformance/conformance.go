// Package conformance reads and runs the .data test files of the
// bpf_conformance suite: an assembly program (-- asm) or raw instructions
// (-- raw), optional input memory (-- mem), and the expected r0 (-- result)
// or an expected error (-- error).
package conformance

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/asm"
	"github.com/xebpf/xebpf/internal/platform"
	"github.com/xebpf/xebpf/interp"
	"github.com/xebpf/xebpf/isa"
)

// Test is one parsed .data file.
type Test struct {
	Name      string
	Program   []isa.Instruction
	Mem       []byte
	Result    uint64
	HasResult bool
	Error     string // expected error text, if the test expects one
}

// ParseFile reads and parses one .data file.
func ParseFile(path string) (*Test, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses the contents of a .data file. name is used in errors.
func Parse(name string, data []byte) (*Test, error) {
	t := &Test{Name: name}
	sections := map[string][]string{}
	starts := map[string]int{}
	current := ""
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "-- ") || line == "--" {
			current = strings.TrimSpace(strings.TrimPrefix(line, "--"))
			starts[current] = i + 2
			continue
		}
		if current != "" {
			sections[current] = append(sections[current], line)
		}
	}
	switch {
	case sections["asm"] != nil:
		// Pad with blank lines so assembler errors carry the file's line numbers.
		src := strings.Repeat("\n", starts["asm"]-1) + strings.Join(sections["asm"], "\n")
		prog, err := asm.Assemble(name, []byte(src))
		if err != nil {
			return nil, err
		}
		t.Program = prog
	case sections["raw"] != nil:
		prog, err := parseRaw(sections["raw"])
		if err != nil {
			return nil, fmt.Errorf("%s: raw: %w", name, err)
		}
		t.Program = prog
	default:
		return nil, fmt.Errorf("%s: no -- asm or -- raw section", name)
	}
	if mem, ok := sections["mem"]; ok {
		b, err := parseHexBytes(strings.Join(mem, " "))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: mem: %w", name, starts["mem"], err)
		}
		t.Mem = b
	}
	if res, ok := sections["result"]; ok {
		v, err := parseResult(res)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: result: %w", name, starts["result"], err)
		}
		t.Result, t.HasResult = v, true
	}
	if e, ok := sections["error"]; ok {
		t.Error = strings.TrimSpace(strings.Join(e, "\n"))
		if t.Error == "" {
			t.Error = "error"
		}
	}
	if !t.HasResult && t.Error == "" {
		return nil, fmt.Errorf("%s: no -- result or -- error section", name)
	}
	return t, nil
}

func parseResult(lines []string) (uint64, error) {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if s, ok := strings.CutPrefix(strings.ToLower(l), "0x"); ok {
			return strconv.ParseUint(s, 16, 64)
		}
		if v, err := strconv.ParseUint(l, 10, 64); err == nil {
			return v, nil
		}
		v, err := strconv.ParseInt(l, 10, 64)
		return uint64(v), err
	}
	return 0, errors.New("empty")
}

// parseRaw parses one 64-bit hex number per line, each a little-endian
// instruction slot.
func parseRaw(lines []string) ([]isa.Instruction, error) {
	var code []byte
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(l), "0x"), 16, 64)
		if err != nil {
			return nil, err
		}
		for i := 0; i < 8; i++ {
			code = append(code, byte(v>>(8*i)))
		}
	}
	return isa.Decode(code)
}

// parseHexBytes parses bytes written as hex pairs, separated by white space
// or not ("00 01 ff" or "0001ff").
func parseHexBytes(s string) ([]byte, error) {
	var compact strings.Builder
	for _, f := range strings.Fields(s) {
		if strings.HasPrefix(f, "#") {
			break
		}
		compact.WriteString(f)
	}
	return hex.DecodeString(compact.String())
}

// ParseHexBytes is parseHexBytes for the plugin's memory argument.
func ParseHexBytes(s string) ([]byte, error) { return parseHexBytes(s) }

// Helpers returns the reference helper set of the suite: 0 gather_bytes,
// 1 memfrob, 2 no-op, 3 integer square root, 4 strcmp, 5 unwind.
func Helpers() map[int32]api.Helper {
	return map[int32]api.Helper{
		0: func(c *api.HelperCall) (uint64, error) {
			a := c.Args
			return (a[0]&0xff)<<32 | (a[1]&0xff)<<24 | (a[2]&0xff)<<16 | (a[3]&0xff)<<8 | a[4]&0xff, nil
		},
		1: func(c *api.HelperCall) (uint64, error) {
			b, err := c.ArgMemory(0, c.Args[1], true)
			if err != nil {
				return 0, err
			}
			for i := range b {
				b[i] ^= 42
			}
			return 0, nil
		},
		2: func(c *api.HelperCall) (uint64, error) { return 0, nil },
		3: func(c *api.HelperCall) (uint64, error) { return isqrt(c.Args[0]), nil },
		4: func(c *api.HelperCall) (uint64, error) {
			a, err := c.CString(c.Args[0], 1<<16)
			if err != nil {
				return 0, err
			}
			b, err := c.CString(c.Args[1], 1<<16)
			if err != nil {
				return 0, err
			}
			return uint64(int64(strcmp(a, b))), nil
		},
		5: func(c *api.HelperCall) (uint64, error) {
			if c.Args[0] == 0 {
				c.Stop()
			}
			return c.Args[0], nil
		},
	}
}

func isqrt(x uint64) uint64 {
	// Newton's method from above; exact floor(sqrt(x)) for every uint64.
	if x < 2 {
		return x
	}
	r := uint64(1) << ((bits.Len64(x) + 1) / 2)
	for {
		n := (r + x/r) / 2
		if n >= r {
			return r
		}
		r = n
	}
}

// strcmp compares like C's strcmp: the difference of the first differing
// bytes, as unsigned char.
func strcmp(a, b []byte) int {
	for i := 0; ; i++ {
		var ca, cb byte
		if i < len(a) {
			ca = a[i]
		}
		if i < len(b) {
			cb = b[i]
		}
		if ca != cb || ca == 0 {
			return int(ca) - int(cb)
		}
	}
}

// Outcome is the result of running one test.
type Outcome struct {
	Test   *Test
	Got    uint64
	Err    error // runtime error of the program, if any
	Passed bool
	Reason string // why it failed
}

// Exec runs a program the way the suite does: mem copied into off-heap
// memory with r1 = its address and r2 = its length (both 0 without memory).
// It returns r0 and the memory after the run.
func Exec(prog []isa.Instruction, mem []byte, mode interp.Mode) (uint64, []byte, error) {
	p, err := interp.Compile(prog, interp.Config{Mode: mode, UnsafeTrustProgram: mode == interp.Fast, Helpers: Helpers()})
	if err != nil {
		return 0, nil, err
	}
	defer p.Close()
	env := &api.Env{}
	if len(mem) > 0 {
		m, err := platform.Alloc(len(mem))
		if err != nil {
			return 0, nil, err
		}
		defer m.Free()
		copy(m.Bytes(), mem)
		env.Args[0], env.Args[1] = uint64(m.Addr()), uint64(len(mem))
		env.Regions = []api.Region{{Addr: uint64(m.Addr()), Size: uint64(len(mem)), Writable: true, Name: "mem"}}
		r0, err := p.Run(env)
		return r0, bytes.Clone(m.Bytes()), err
	}
	r0, err := p.Run(env)
	return r0, nil, err
}

// Run runs t in the given mode and compares with its expectation.
func Run(t *Test, mode interp.Mode) Outcome {
	o := Outcome{Test: t}
	o.Got, _, o.Err = Exec(t.Program, t.Mem, mode)
	switch {
	case t.Error != "" && o.Err != nil:
		o.Passed = true
	case t.Error != "":
		o.Reason = fmt.Sprintf("expected error %q, got r0 = %#x", t.Error, o.Got)
	case o.Err != nil:
		o.Reason = fmt.Sprintf("expected %#x, got error: %v", t.Result, o.Err)
	case o.Got != t.Result:
		o.Reason = fmt.Sprintf("expected %#x, got %#x", t.Result, o.Got)
	default:
		o.Passed = true
	}
	return o
}

// Files expands directories in paths to the .data files they contain,
// sorted by name.
func Files(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		m, err := filepath.Glob(filepath.Join(p, "*.data"))
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%s: no .data files", p)
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	return files, nil
}
