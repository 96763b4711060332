package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/xebpf/xebpf"
	"github.com/xebpf/xebpf/internal/kernel"
	"github.com/xebpf/xebpf/internal/mapfile"
	"github.com/xebpf/xebpf/verifier"
)

// runResult is the --json output of xebpf run. DataOut and DataOutLen
// are absent for programs without a packet (a packet program's data_out
// has an Ethernet header at least); DurationNs is the mean of Repeat runs,
// the first (cold) one included.
type runResult struct {
	Program    string `json:"program"`
	Retval     uint32 `json:"retval"`
	Action     string `json:"action,omitempty"`
	DataOut    string `json:"data_out,omitempty"`
	DataOutLen int    `json:"data_out_len,omitempty"`
	DurationNs int64  `json:"duration_ns"`
	Repeat     int    `json:"repeat"`
	Engine     string `json:"engine"`
}

func cmdRun(args []string, sio stdio) error {
	stdout, stderr := sio.out, sio.errout
	fs := newFlags("run", "FILE.o [--program NAME] [--data FILE] [--data-out FILE] [--ctx FILE | --ctx-json JSON] [--type NAME] [--arch x86_64|arm64] [--format FILE] [--maps-in FILE.json] [--maps-out FILE.json] [--repeat N] [--json] [--compare-kernel] [--unverified refuse|checked] [--checked] [--unsafe-fast]", stderr)
	progName := fs.String("program", "", "program to run (required when the object has several)")
	dataFile := fs.String("data", "", "packet input file")
	dataOutFile := fs.String("data-out", "", "write the output packet to this file")
	ctxFile := fs.String("ctx", "", "context input file (struct xdp_md, __sk_buff, pt_regs, ...)")
	typeFlags := addRunTypeFlags(fs)
	mapsIn := fs.String("maps-in", "", "preload map contents from this JSON maps file")
	mapsOut := fs.String("maps-out", "", "write every map's contents to this JSON maps file after the run (- for standard output)")
	repeat := fs.Int("repeat", 1, "run this many times (1 or more) and report the mean duration, which includes the cold first run")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	compare := fs.Bool("compare-kernel", false, "also run in the Linux kernel (BPF_PROG_TEST_RUN) and print every difference")
	unverified := fs.String("unverified", "refuse", "what to do with a program the verifier rejects: refuse to run it, or run it in checked mode")
	checked := fs.Bool("checked", false, "run in checked mode even a program the verifier accepted")
	fast := fs.Bool("unsafe-fast", false, "skip the verifier and run without per-access checks (only for programs known to be correct)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	path := pos[0]
	if err := checkRepeat(*repeat); err != nil {
		return err
	}
	var policy xebpf.UnverifiedPolicy
	switch *unverified {
	case "refuse":
		policy = xebpf.RefuseUnverified
	case "checked":
		policy = xebpf.RunUnverifiedChecked
	default:
		return fmt.Errorf("--unverified %q: want refuse or checked", *unverified)
	}
	var data, ctx []byte
	if *dataFile != "" {
		if data, err = os.ReadFile(*dataFile); err != nil {
			return err
		}
	}
	if *ctxFile != "" {
		if ctx, err = os.ReadFile(*ctxFile); err != nil {
			return err
		}
	}
	var states map[string]kernel.MapState
	if *mapsIn != "" {
		b, err := os.ReadFile(*mapsIn)
		if err != nil {
			return err
		}
		if states, err = kernel.UnmarshalMaps(b); err != nil {
			return mapsFileErr(*mapsIn, err)
		}
	}
	spec, err := xebpf.LoadCollectionSpec(path)
	if err != nil {
		return err
	}
	name, err := pickProgram(spec, *progName)
	if err != nil {
		return err
	}
	types, err := typeFlags.apply(spec, name, ctx != nil)
	if err != nil {
		return err
	}
	late, err := mapfile.Preload(spec, states)
	if err != nil {
		return mapsFileErr(*mapsIn, err)
	}
	coll, err := xebpf.NewCollectionWithOptions(spec, xebpf.CollectionOptions{Trace: stderr, UnsafeFastMode: *fast, Unverified: policy, Checked: *checked,
		Types: types, Arch: typeFlags.archVal})
	if err != nil {
		var verr *verifier.Error
		if errors.As(err, &verr) {
			return fmt.Errorf("%w\n(the verifier rejects it: --unverified checked runs it in checked mode, whose run-time checks stop what it does wrong)", err)
		}
		return err
	}
	defer coll.Close()
	if err := mapfile.Load(coll, late); err != nil {
		return mapsFileErr(*mapsIn, err)
	}
	prog := coll.Programs[name]
	packet := takesPacket(prog)
	if !packet && *dataFile != "" {
		return errNoPacket("--data", name, prog)
	}
	if !packet && *dataOutFile != "" {
		return errNoPacket("--data-out", name, prog)
	}
	if ctx == nil {
		if ctx, err = typeFlags.context(spec, prog, stderr); err != nil {
			return err
		}
	}
	opts := &xebpf.RunOptions{Data: data, Context: ctx, Repeat: uint32(*repeat)}
	if data != nil {
		opts.DataOut = make([]byte, len(data)+4096)
	}
	if ctx != nil {
		opts.ContextOut = make([]byte, len(ctx))
	}
	ret, err := prog.Run(opts)
	if err != nil {
		return err
	}
	dur := opts.Duration
	res := runResult{Program: name, Retval: ret, DurationNs: dur.Nanoseconds(), Repeat: *repeat, Engine: prog.Engine().String()}
	if packet {
		res.DataOut, res.DataOutLen = hex.EncodeToString(opts.DataOut), len(opts.DataOut)
	}
	if r := prog.Kind().Result; r != nil {
		res.Action = r(ret)
	}
	if *dataOutFile != "" {
		if err := os.WriteFile(*dataOutFile, opts.DataOut, 0o644); err != nil {
			return err
		}
	}
	mine, err := mapfile.Dump(coll)
	if err != nil {
		return err
	}
	if *mapsOut != "" {
		b, err := kernel.MarshalMaps(mine)
		if err != nil {
			return err
		}
		if *mapsOut == "-" {
			defer fmt.Fprintf(stdout, "%s\n", b) // after the result
		} else if err := os.WriteFile(*mapsOut, b, 0o644); err != nil {
			return err
		}
	}
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printResult(stdout, res, dur)
	}
	if !*compare {
		return nil
	}
	diffs, kdur, err := compareWithKernel(typeFlags, path, spec, name, states, opts, ret, mine, data, ctx, *repeat)
	if err != nil {
		return fmt.Errorf("compare-kernel: %w", err)
	}
	if kdur > 0 {
		fmt.Fprintf(stdout, "kernel duration: %d ns/run; xebpf/kernel = %.1fx%s\n", kdur.Nanoseconds(), float64(dur)/float64(kdur), coldNote(*repeat))
	}
	if len(diffs) == 0 {
		fmt.Fprintln(stdout, "kernel: identical (retval, data_out, maps)")
		return nil
	}
	for _, d := range diffs {
		fmt.Fprintf(stdout, "DIFF %s\n", d)
	}
	fmt.Fprintf(stdout, "kernel: %d differences\n", len(diffs))
	return &exitError{1}
}

func printResult(w io.Writer, r runResult, dur time.Duration) {
	fmt.Fprintf(w, "program: %s\n", r.Program)
	if r.Action != "" {
		fmt.Fprintf(w, "retval: %d (%s)\n", r.Retval, r.Action)
	} else {
		fmt.Fprintf(w, "retval: %d (%#x)\n", r.Retval, r.Retval)
	}
	fmt.Fprintf(w, "engine: %s\n", r.Engine)
	if r.DataOutLen > 0 {
		fmt.Fprintf(w, "data_out: %d bytes\n", r.DataOutLen)
	}
	fmt.Fprintf(w, "duration: %s\n", durationText(r.Repeat, dur))
}

// pickProgram returns the program to run: the named one, or the only one.
func pickProgram(spec *xebpf.CollectionSpec, name string) (string, error) {
	names := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		names = append(names, n)
	}
	sort.Strings(names)
	if name != "" {
		if _, ok := spec.Programs[name]; !ok {
			return "", fmt.Errorf("no program %q (have %s)", name, strings.Join(names, ", "))
		}
		return name, nil
	}
	if len(names) == 1 {
		return names[0], nil
	}
	if len(names) == 0 {
		return "", errors.New("the object has no programs")
	}
	return "", fmt.Errorf("the object has %d programs, choose one with --program: %s", len(names), strings.Join(names, ", "))
}

// compareWithKernel runs the same program in the kernel on the same input
// and returns the differences with xebpf's outcome.
func compareWithKernel(typeFlags *runTypeFlags, path string, spec *xebpf.CollectionSpec, name string, states map[string]kernel.MapState, opts *xebpf.RunOptions, ret uint32, mine map[string]kernel.MapState, data, ctx []byte, repeat int) ([]kernel.Difference, time.Duration, error) {
	if err := kernel.Available(); err != nil {
		return nil, 0, err
	}
	kc, err := typeFlags.loadKernel(path, spec, name, states)
	if err != nil {
		return nil, 0, err
	}
	defer kc.Close()
	kr, err := kc.Run(name, kernel.RunInput{Data: data, Context: ctx, Repeat: repeat})
	if err != nil {
		return nil, 0, err
	}
	kmaps, err := kc.DumpMaps()
	if err != nil {
		return nil, 0, err
	}
	for name := range mine {
		// cilium/ebpf may fold a read-only section into the program instead
		// of creating its map: constants the program cannot change.
		if _, ok := kmaps[name]; !ok && strings.HasPrefix(name, ".rodata") {
			delete(mine, name)
		}
	}
	xr := kernel.RunResult{Retval: ret, DataOut: opts.DataOut}
	if ctx != nil {
		xr.ContextOut, _ = opts.ContextOut.([]byte)
	}
	if data == nil {
		kr.DataOut, xr.DataOut = nil, nil
	}
	return kernel.Compare(kernel.Outcome{Result: kr, Maps: kmaps}, kernel.Outcome{Result: xr, Maps: mine},
		kernel.CompareOptions{ValueMasks: kc.ValueMasks()}), kr.Duration, nil
}
