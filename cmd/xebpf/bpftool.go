package main

// The daemon's commands (prog, map, unpin) speak bpftool's grammar: this
// file has what they share — the options bpftool takes anywhere on the
// line, object names (id N | pinned PATH | name NAME), BYTES, and the
// JSON and hex output.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xebpf/xebpf/service/client"
	"github.com/xebpf/xebpf/service/proto"
)

// bpfOpts are the options bpftool takes anywhere on its command line.
type bpfOpts struct {
	json, pretty bool
	socket       string
}

// splitOpts takes the options out of args: -j/--json, -p/--pretty (which
// implies --json), -f/--bpffs (pins are always shown) and --socket PATH.
func splitOpts(args []string) (bpfOpts, []string, error) {
	var o bpfOpts
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-j" || a == "--json":
			o.json = true
		case a == "-p" || a == "--pretty":
			o.json, o.pretty = true, true
		case a == "-f" || a == "--bpffs":
		case a == "--socket" || a == "-socket":
			if i+1 >= len(args) {
				return o, nil, fmt.Errorf("%s needs a path: %w", a, errBadArgs)
			}
			i++
			o.socket = args[i]
		case strings.HasPrefix(a, "--socket="):
			o.socket = strings.TrimPrefix(a, "--socket=")
		default:
			rest = append(rest, a)
		}
	}
	return o, rest, nil
}

// errBadArgs marks a command line that does not follow the grammar.
var errBadArgs = errors.New("bad arguments")

// dialDaemon connects to the daemon at --socket, $XEBPF_SOCKET or the
// default socket.
func dialDaemon(o bpfOpts) (*client.Client, error) {
	return client.Dial(client.SocketPath(o.socket))
}

// writeJSON prints v as bpftool's JSON output: compact, or indented with
// --pretty.
func writeJSON(w io.Writer, o bpfOpts, v any) error {
	var b []byte
	var err error
	if o.pretty {
		b, err = json.MarshalIndent(v, "", "    ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// parseRef parses id N | pinned PATH | name NAME at the start of args
// and returns the rest.
func parseRef(what string, args []string) (proto.Ref, []string, error) {
	if len(args) < 2 {
		return proto.Ref{}, nil, fmt.Errorf("expected %s: id ID | pinned PATH | name NAME: %w", what, errBadArgs)
	}
	var r proto.Ref
	switch args[0] {
	case "id":
		id, err := strconv.ParseUint(args[1], 0, 32)
		if err != nil || id == 0 {
			return r, nil, fmt.Errorf("can't parse %s id %q: %w", what, args[1], errBadArgs)
		}
		r.ID = uint32(id)
	case "pinned":
		r.Pinned = args[1]
	case "name":
		r.Name = args[1]
	default:
		return r, nil, fmt.Errorf("expected 'id', 'pinned' or 'name' for %s, got %q: %w", what, args[0], errBadArgs)
	}
	return r, args[2:], nil
}

// parseBytes parses n bytes at the start of args as bpftool does: each
// word one byte, in C notation (10, 0x0a, 012), or in hex without prefix
// after the word hex (hex 0a 00). It returns the rest of args.
func parseBytes(name string, args []string, n int) ([]byte, []string, error) {
	base := 0
	if len(args) > 0 && args[0] == "hex" {
		base = 16
		args = args[1:]
	}
	out := make([]byte, 0, n)
	for len(out) < n && len(args) > 0 {
		b, err := parseByte(args[0], base)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, b)
		args = args[1:]
	}
	if len(out) != n {
		return nil, nil, fmt.Errorf("%s expected %d bytes got %d: %w", name, n, len(out), errBadArgs)
	}
	return out, args, nil
}

// parseByte parses one byte as strtoul(s, NULL, base) does, refusing
// what does not fit in a byte.
func parseByte(s string, base int) (byte, error) {
	t := s
	if base == 16 {
		t = strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	} else if len(t) > 1 && t[0] == '0' && t[1] != 'x' && t[1] != 'X' {
		t, base = t[1:], 8 // C's octal
	}
	if t == "" || strings.ContainsAny(t, "_+-") {
		return 0, fmt.Errorf("error parsing byte: %s: %w", s, errBadArgs)
	}
	v, err := strconv.ParseUint(t, base, 8)
	if err != nil {
		return 0, fmt.Errorf("error parsing byte: %s: %w", s, errBadArgs)
	}
	return byte(v), nil
}

// hexWords formats bytes as bpftool's fprint_hex: "0a 00 00 01".
func hexWords(b []byte) string {
	var s strings.Builder
	for i, c := range b {
		if i > 0 {
			s.WriteByte(' ')
		}
		fmt.Fprintf(&s, "%02x", c)
	}
	return s.String()
}

// hexJSON formats bytes as bpftool's JSON byte arrays: ["0x0a","0x00"].
func hexJSON(b []byte) []string {
	out := make([]string, len(b))
	for i, c := range b {
		out[i] = fmt.Sprintf("0x%02x", c)
	}
	return out
}

// hexDump prints data as bpftool's hex_print: offset, 16 bytes in pairs,
// and the printable characters.
func hexDump(w io.Writer, data []byte) {
	for i := 0; i < len(data); i += 16 {
		var b strings.Builder
		fmt.Fprintf(&b, "%07x\t", i)
		j := i
		for ; j < i+16 && j < len(data); j++ {
			fmt.Fprintf(&b, "%02x", data[j])
			if j%2 == 1 {
				b.WriteByte(' ')
			}
		}
		for ; j < i+16; j++ {
			b.WriteString("  ")
			if j%2 == 1 {
				b.WriteByte(' ')
			}
		}
		b.WriteString("| ")
		for j = i; j < i+16 && j < len(data); j++ {
			c := data[j]
			if c < ' ' || c > '~' {
				c = '.'
			}
			b.WriteByte(c)
			if j == i+7 {
				b.WriteByte(' ')
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// bpfCommand runs one of the daemon's commands: it splits the options,
// picks the verb (bpftool takes any unique prefix: "sh" for show) and
// maps bad arguments to a usage error.
func bpfCommand(name, synopsis string, verbs map[string]func(o bpfOpts, args []string, sio stdio) error, args []string, sio stdio) error {
	o, args, err := splitOpts(args)
	if err == nil && (len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		for i, l := range strings.Split(synopsis, "\n") {
			switch {
			case i == 0:
				fmt.Fprintf(sio.errout, "usage: xebpf %s\n", l)
			case strings.HasPrefix(l, name+" "):
				fmt.Fprintf(sio.errout, "       xebpf %s\n", l)
			default:
				fmt.Fprintf(sio.errout, "       %s\n", l)
			}
		}
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	if err == nil {
		var verb func(bpfOpts, []string, stdio) error
		verb, err = pickVerb(name, verbs, args[0])
		if err == nil {
			err = verb(o, args[1:], sio)
		}
	}
	if errors.Is(err, errBadArgs) {
		fmt.Fprintf(sio.errout, "xebpf %s: %v\n", name, strings.TrimSuffix(err.Error(), ": "+errBadArgs.Error()))
		return errUsage
	}
	return err
}

// pickVerb finds the verb of which word is a unique prefix.
func pickVerb(cmd string, verbs map[string]func(bpfOpts, []string, stdio) error, word string) (func(bpfOpts, []string, stdio) error, error) {
	if v, ok := verbs[word]; ok {
		return v, nil
	}
	var found []string
	for n := range verbs {
		if strings.HasPrefix(n, word) {
			found = append(found, n)
		}
	}
	if len(found) == 1 {
		return verbs[found[0]], nil
	}
	return nil, fmt.Errorf("unknown or ambiguous verb %q of %s: %w", word, cmd, errBadArgs)
}

// pinVerb returns the pin verb of prog, map or link: OBJECT PATH, with
// the object parsed by parse and pinned by pin.
func pinVerb(parse func([]string) (proto.Ref, []string, error), pin func(*client.Client, proto.Ref, string) error) func(bpfOpts, []string, stdio) error {
	return func(o bpfOpts, args []string, sio stdio) error {
		ref, args, err := parse(args)
		if err != nil {
			return err
		}
		if len(args) != 1 {
			return fmt.Errorf("expected PATH: %w", errBadArgs)
		}
		c, err := dialDaemon(o)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := pin(c, ref, args[0]); err != nil {
			return err
		}
		return printDone(o, sio.out)
	}
}

// noArgs checks that nothing is left of a command line.
func noArgs(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q: %w", args[0], errBadArgs)
	}
	return nil
}

// printDone prints bpftool's JSON answer of a command without output.
func printDone(o bpfOpts, w io.Writer) error {
	if o.json {
		return writeJSON(w, o, nil)
	}
	return nil
}

// optionalRef parses the optional object of a show command: nothing (the
// zero Ref: all of them) or one PROG or MAP.
func optionalRef(what string, args []string) (proto.Ref, error) {
	if len(args) == 0 {
		return proto.Ref{}, nil
	}
	ref, args, err := parseRef(what, args)
	if err != nil {
		return ref, err
	}
	return ref, noArgs(args)
}

// showObjects is the body of prog show, map show and link show: the
// objects ref names (all of them for the zero Ref), as bpftool prints
// them; in JSON one object when ref names one, else an array.
func showObjects[T, J any](o bpfOpts, ref proto.Ref, sio stdio, list func(*client.Client, proto.Ref) ([]T, error), toJSON func(T) J, print func(io.Writer, T)) error {
	c, err := dialDaemon(o)
	if err != nil {
		return err
	}
	defer c.Close()
	objs, err := list(c, ref)
	if err != nil {
		return err
	}
	if o.json {
		js := make([]J, len(objs))
		for i, x := range objs {
			js[i] = toJSON(x)
		}
		if ref != (proto.Ref{}) && len(js) == 1 {
			return writeJSON(sio.out, o, js[0])
		}
		return writeJSON(sio.out, o, js)
	}
	for _, x := range objs {
		print(sio.out, x)
	}
	return nil
}
