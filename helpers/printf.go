package helpers

import (
	"bytes"
	"encoding/binary"

	"github.com/xebpf/xebpf/api"
	"github.com/xebpf/xebpf/maps"
)

// prepared is one printf argument after the preparation pass: its raw
// value, and for %s, %pks, %pus, %pB and %pI its text in Run.binArgs.
type prepared struct {
	val  uint64
	text []byte
}

// fmtOut collects formatted output: it stores what fits in b and counts
// everything, like vsnprintf.
type fmtOut struct {
	b []byte
	n int
}

func (o *fmtOut) put(c byte) {
	if o.n < len(o.b) {
		o.b[o.n] = c
	}
	o.n++
}

func (o *fmtOut) pad(c byte, n int) {
	for ; n > 0 && o.n < len(o.b); n-- {
		o.b[o.n] = c
		o.n++
	}
	if n > 0 {
		o.n += n
	}
}

func (o *fmtOut) write(s []byte) {
	if o.n < len(o.b) {
		copy(o.b[o.n:], s)
	}
	o.n += len(s)
}

// Format flags, as vsprintf's.
const (
	fLeft = 1 << iota
	fPlus
	fSpace
	fZero
)

// fieldWidthMax is vsprintf's FIELD_WIDTH_MAX.
const fieldWidthMax = 1<<23 - 1

func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }
func isPrint(c byte) bool { return c >= 0x20 && c < 0x7f }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isPunct(c byte) bool { return isPrint(c) && !isAlnum(c) && c != ' ' }

// bprintf formats format (without its NUL) with args like Linux's
// bpf_bprintf_prepare followed by bstr_printf: it accepts exactly the
// conversions the kernel accepts (%d %i %u %x %X with l/ll, %c, %s, %%,
// %p %pK %px %ps %pS %pB %pks %pus %pI4 %pi4 %pI6 %pi6, with the flags
// 0 + - space and a width), in the kernel's 512-byte argument buffer. It
// returns the length of the whole output, or the errno the kernel returns
// (EINVAL for a bad format or too few arguments, ENOSPC when arguments
// overflow the buffer).
//
// Deviation: %p and %pK print the raw address (as with Linux's
// no_hash_pointers); %ps, %pS and %pB print 0x<address> as Linux does for
// an address without a symbol.
func (r *Run) bprintf(c *api.HelperCall, f []byte, args []uint64, o *fmtOut) (int, maps.Errno) {
	if e := r.prepare(c, f, args); e != 0 {
		return 0, e
	}
	at := func(i int) byte {
		if i < len(f) {
			return f[i]
		}
		return 0
	}
	spec := 0
	for i := 0; i < len(f); i++ {
		ch := f[i]
		if ch != '%' {
			o.put(ch)
			continue
		}
		if at(i+1) == '%' {
			o.put('%')
			i++
			continue
		}
		i++
		flags := 0
	flagLoop:
		for {
			switch at(i) {
			case '-':
				flags |= fLeft
			case '+':
				flags |= fPlus
			case ' ':
				flags |= fSpace
			case '0':
				flags |= fZero
			default:
				break flagLoop
			}
			i++
		}
		if flags&fLeft != 0 {
			flags &^= fZero
		}
		width := -1
		if isDigit(at(i)) {
			width = 0
			for isDigit(at(i)) {
				width = min(width*10+int(at(i)-'0'), fieldWidthMax)
				i++
			}
		}
		p := &r.prep[spec]
		spec++
		switch at(i) {
		case 'p':
			switch n1 := at(i + 1); {
			case n1 == 0 || isSpace(n1) || isPunct(n1), n1 == 'K', n1 == 'x':
				pointerString(o, p.val, flags, width)
			case n1 == 's' || n1 == 'S':
				var sym [18]byte
				s := append(sym[:0], '0', 'x')
				s = appendHex(s, p.val, false)
				str(o, s, flags, width)
			default: // pks, pus, pB, pI4, pi4, pI6, pi6: pre-formatted
				str(o, p.text, flags, width)
			}
			for isAlnum(at(i + 1)) { // bstr_printf skips the extension
				i++
			}
		case 's':
			str(o, p.text, flags, width)
		case 'c':
			if flags&fLeft == 0 {
				o.pad(' ', width-1)
			}
			o.put(byte(p.val))
			if flags&fLeft != 0 {
				o.pad(' ', width-1)
			}
		default:
			long := false
			for at(i) == 'l' {
				long = true
				i++
			}
			v := p.val
			conv := at(i)
			signed := conv == 'd' || conv == 'i'
			if !long {
				if signed {
					v = uint64(int64(int32(uint32(v))))
				} else {
					v = uint64(uint32(v))
				}
			}
			number(o, v, signed, conv == 'x' || conv == 'X', conv == 'X', flags, width)
		}
	}
	return o.n, 0
}

// prepare is bpf_bprintf_prepare: it validates the format and stores the
// text of string-like arguments in r.binArgs, with the kernel's space
// accounting.
func (r *Run) prepare(c *api.HelperCall, f []byte, args []uint64) maps.Errno {
	at := func(i int) byte {
		if i < len(f) {
			return f[i]
		}
		return 0
	}
	pos, spec := 0, 0
	for i := 0; i < len(f); i++ {
		ch := f[i]
		if ch >= 0x80 || !(isPrint(ch) || isSpace(ch)) {
			return eINVAL
		}
		if ch != '%' {
			continue
		}
		if at(i+1) == '%' {
			i++
			continue
		}
		if spec >= len(args) {
			return eINVAL
		}
		i++
		for at(i) == '0' || at(i) == '+' || at(i) == '-' || at(i) == ' ' {
			i++
		}
		if at(i) >= '1' && at(i) <= '9' {
			for i++; isDigit(at(i)); i++ {
			}
		}
		p := &r.prep[spec]
		*p = prepared{val: args[spec]}
		size := 4
		space := SpaceKernel
		switch at(i) {
		case 'p':
			size = 8
			n1 := at(i + 1)
			switch {
			case n1 == 0 || isSpace(n1) || isPunct(n1):
			case (n1 == 'k' || n1 == 'u') && at(i+2) == 's':
				if n1 == 'u' {
					space = SpaceUser
				}
				i += 2
				e := r.prepStr(c, p, space, at(i+1), &pos)
				if e != 0 {
					return e
				}
				spec++
				continue
			case n1 == 'K' || n1 == 'x' || n1 == 's' || n1 == 'S':
				i++
			case n1 == 'B':
				i++
				var sym [18]byte
				s := appendHex(append(sym[:0], '0', 'x'), p.val, false)
				p.text = r.putText(s, &pos)
				spec++
				continue
			default:
				if (n1 != 'i' && n1 != 'I') || (at(i+2) != '4' && at(i+2) != '6') {
					return eINVAL
				}
				i += 2
				n := 4
				if f[i] == '6' {
					n = 16
				}
				if binArgsSize-pos < n {
					return eNOSPC
				}
				raw := r.chunk[:n]
				if !r.reader().ReadAt(c, SpaceKernel, raw, p.val) {
					clear(raw)
				}
				var ip [40]byte
				p.text = r.putText(formatIP(ip[:0], raw, f[i-1]), &pos)
				spec++
				continue
			}
		case 's':
			e := r.prepStr(c, p, SpaceKernel, at(i+1), &pos)
			if e != 0 {
				return e
			}
			spec++
			continue
		case 'c':
			if pos >= binArgsSize {
				return eNOSPC
			}
			r.binArgs[pos] = byte(p.val)
			pos++
			spec++
			continue
		default:
			if at(i) == 'l' {
				size = 8
				i++
			}
			if at(i) == 'l' {
				i++
			}
			switch at(i) {
			case 'i', 'd', 'u', 'x', 'X':
			default:
				return eINVAL
			}
		}
		pos = (pos + 3) &^ 3
		if binArgsSize-pos < size {
			return eNOSPC
		}
		pos += size
		spec++
	}
	return 0
}

// prepStr copies the string argument of p into the argument buffer, like
// bpf_trace_copy_string: an unreadable string becomes empty. next is the
// format byte after the conversion, which must end it.
func (r *Run) prepStr(c *api.HelperCall, p *prepared, space Space, next byte, pos *int) maps.Errno {
	if next != 0 && !isSpace(next) && !isPunct(next) {
		return eINVAL
	}
	if *pos >= binArgsSize {
		return eNOSPC
	}
	buf := r.binArgs[*pos:]
	n, ok := r.readStr(c, space, buf, p.val)
	if !ok {
		buf[0] = 0
		n = 1
	}
	p.text = buf[:n-1]
	*pos += n
	return 0
}

// putText stores pre-formatted text in the argument buffer like the
// kernel's snprintf into it (truncating, NUL-terminating) and advances pos
// by the untruncated length plus one, as the kernel does.
func (r *Run) putText(s []byte, pos *int) []byte {
	var t []byte
	if room := binArgsSize - *pos; room > 0 {
		n := min(len(s), room-1)
		t = r.binArgs[*pos : *pos+n]
		copy(t, s)
		r.binArgs[*pos+n] = 0
	}
	*pos += len(s) + 1
	return t
}

const hexLower, hexUpper = "0123456789abcdef", "0123456789ABCDEF"

func appendHex(b []byte, v uint64, upper bool) []byte {
	digits := hexLower
	if upper {
		digits = hexUpper
	}
	var t [16]byte
	i := len(t)
	for {
		i--
		t[i] = digits[v&15]
		v >>= 4
		if v == 0 {
			break
		}
	}
	return append(b, t[i:]...)
}

// formatIP formats an address like vsprintf's %pI4 (1.2.3.4), %pi4
// (001.002.003.004), %pI6 (8 colon-separated groups of 4 hex digits) or
// %pi6 (32 hex digits).
func formatIP(b, raw []byte, kind byte) []byte {
	if len(raw) == 4 {
		for j, x := range raw {
			if j > 0 {
				b = append(b, '.')
			}
			if kind == 'i' {
				b = append(b, '0'+x/100, '0'+x/10%10, '0'+x%10)
				continue
			}
			if x >= 100 {
				b = append(b, '0'+x/100)
			}
			if x >= 10 {
				b = append(b, '0'+x/10%10)
			}
			b = append(b, '0'+x%10)
		}
		return b
	}
	for j, x := range raw {
		if kind == 'I' && j > 0 && j%2 == 0 {
			b = append(b, ':')
		}
		b = append(b, hexLower[x>>4], hexLower[x&15])
	}
	return b
}

// number is vsprintf's number() for bases 10 and 16.
func number(o *fmtOut, v uint64, signed, hex, upper bool, flags, width int) {
	var sign byte
	if signed {
		switch {
		case int64(v) < 0:
			sign, v = '-', -v
		case flags&fPlus != 0:
			sign = '+'
		case flags&fSpace != 0:
			sign = ' '
		}
		if sign != 0 {
			width--
		}
	}
	var t [24]byte
	var d []byte
	if hex {
		d = appendHex(t[:0], v, upper)
	} else {
		i := len(t)
		for {
			i--
			t[i] = byte('0' + v%10)
			v /= 10
			if v == 0 {
				break
			}
		}
		d = t[i:]
	}
	width -= len(d)
	if flags&(fZero|fLeft) == 0 {
		o.pad(' ', width)
		width = 0
	}
	if sign != 0 {
		o.put(sign)
	}
	if flags&fLeft == 0 {
		o.pad('0', width) // fZero is set here, or width was used up
		width = 0
	}
	o.write(d)
	o.pad(' ', width)
}

// pointerString is vsprintf's pointer_string(): 16 zero-padded hex
// digits unless a width is given.
func pointerString(o *fmtOut, v uint64, flags, width int) {
	if width == -1 {
		width, flags = 16, flags|fZero
	}
	number(o, v, false, true, false, flags, width)
}

// str is vsprintf's string() without precision.
func str(o *fmtOut, s []byte, flags, width int) {
	if flags&fLeft == 0 {
		o.pad(' ', width-len(s))
	}
	o.write(s)
	if flags&fLeft != 0 {
		o.pad(' ', width-len(s))
	}
}

// formatArg reads the NUL-terminated format of trace_printk and
// trace_vprintk: fmt_size bytes that must hold a NUL.
func formatArg(c *api.HelperCall) ([]byte, bool, error) {
	b, err := c.ArgMemory(0, uint64(uint32(c.Args[1])), false)
	if err != nil {
		return nil, false, err
	}
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return nil, false, nil
	}
	return b[:i], true, nil
}

// trace emits a message: the output up to the first NUL, as the kernel's
// trace event copies a string.
func (r *Run) trace(msg []byte) {
	if i := bytes.IndexByte(msg, 0); i >= 0 {
		msg = msg[:i]
	}
	if r.Trace != nil {
		r.Trace.Write(msg) //nolint:errcheck // tracing is best effort, as in Linux
	}
}

// bpf_trace_printk(fmt, fmt_size, a1, a2, a3): writes the message (at most
// 1023 bytes) to Run.Trace and returns the length of the whole output.
func tracePrintk(c *api.HelperCall) (uint64, error) {
	r, err := runOf(c)
	if err != nil {
		return 0, err
	}
	f, ok, err := formatArg(c)
	if err != nil || !ok {
		return errno(eINVAL), err
	}
	r.fmtArgs[0], r.fmtArgs[1], r.fmtArgs[2] = c.Args[2], c.Args[3], c.Args[4]
	o := fmtOut{b: r.printBuf[:printBufSize-1]}
	n, e := r.bprintf(c, f, r.fmtArgs[:3], &o)
	if e != 0 {
		return errno(e), nil
	}
	r.trace(r.printBuf[:min(n, printBufSize-1)])
	return uint64(n), nil
}

// dataArgs reads the u64 argument array of trace_vprintk and snprintf.
func (r *Run) dataArgs(c *api.HelperCall, addr, size uint64) ([]uint64, maps.Errno, error) {
	if size%8 != 0 || size > maxPrintfArgs*8 || (size != 0 && addr == 0) {
		return nil, eINVAL, nil
	}
	b, err := c.Memory(addr, size, false)
	if err != nil {
		return nil, 0, err
	}
	n := int(size / 8)
	for i := range n {
		r.fmtArgs[i] = binary.NativeEndian.Uint64(b[8*i:])
	}
	return r.fmtArgs[:n], 0, nil
}

// bpf_trace_vprintk(fmt, fmt_size, data, data_len).
func traceVprintk(c *api.HelperCall) (uint64, error) {
	r, err := runOf(c)
	if err != nil {
		return 0, err
	}
	args, e, err := r.dataArgs(c, c.Args[2], uint64(uint32(c.Args[3])))
	if err != nil || e != 0 {
		return errno(e), err
	}
	f, ok, err := formatArg(c)
	if err != nil || !ok {
		return errno(eINVAL), err
	}
	o := fmtOut{b: r.printBuf[:printBufSize-1]}
	n, e := r.bprintf(c, f, args, &o)
	if e != 0 {
		return errno(e), nil
	}
	r.trace(r.printBuf[:min(n, printBufSize-1)])
	return uint64(n), nil
}

// maxConstStr bounds the format string of bpf_snprintf.
const maxConstStr = 1 << 16

// bpf_snprintf(str, str_size, fmt, data, data_len): formats into str
// (NUL-terminated when str_size > 0) and returns the length of the whole
// output plus one.
func snprintfHelper(c *api.HelperCall) (uint64, error) {
	r, err := runOf(c)
	if err != nil {
		return 0, err
	}
	size := uint64(uint32(c.Args[1]))
	out, err := c.ArgMemory(0, size, true)
	if err != nil {
		return 0, err
	}
	args, e, err := r.dataArgs(c, c.Args[3], uint64(uint32(c.Args[4])))
	if err != nil || e != 0 {
		return errno(e), err
	}
	f, err := c.CString(c.Args[2], maxConstStr)
	if err != nil {
		return 0, err
	}
	if len(f) == maxConstStr {
		return errno(eINVAL), nil
	}
	o := fmtOut{}
	if len(out) > 0 {
		o.b = out[:len(out)-1]
	}
	n, e := r.bprintf(c, f, args, &o)
	if e != 0 {
		return errno(e), nil
	}
	if len(out) > 0 {
		out[min(n, len(out)-1)] = 0
	}
	return uint64(n) + 1, nil
}
