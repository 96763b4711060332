//go:build !windows

// Package gen2go is bpf2go for xebpf: it takes cilium/ebpf v0.22.0's bpf2go
// command line, compiles and generates with bpf2go's own gen package, and
// writes the same files bpf2go writes, except that the Go file imports
// github.com/xebpf/xebpf (as ebpf) instead of github.com/cilium/ebpf.
//
// Like bpf2go, it is not available on Windows.
package gen2go

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/cmd/bpf2go/gen"
)

// Import paths of the generated file: the one gen writes and its
// replacement, imported under the name the generated code uses.
const (
	ciliumModule = "github.com/cilium/ebpf"
	xebpfModule  = "github.com/xebpf/xebpf"
	importName   = "ebpf"
)

// ErrCiliumImport reports generated code that still imports a cilium/ebpf
// package after the rewrite: code xebpf users could not build.
var ErrCiliumImport = errors.New("generated code imports cilium/ebpf")

const helpText = `Usage: %[1]s [options] <ident> <source file> [-- <C flags>]

ident is used as the stem of all generated Go types and functions, and
must be a valid Go identifier.

source is a single C file that is compiled using the specified compiler
(usually some version of clang).

You can pass options to the compiler by appending them after a '--' argument
or by supplying -cflags. Flags passed as arguments take precedence
over flags passed via -cflags. Additionally, the program expands quotation
marks in -cflags. This means that -cflags 'foo "bar baz"' is passed to the
compiler as two arguments "foo" and "bar baz".

The program expects GOPACKAGE to be set in the environment, and should be invoked
via go generate. The generated files are written to the current directory.
The generated Go code imports github.com/xebpf/xebpf as ebpf.

Some options take defaults from the environment. Variable name is mentioned
next to the respective option.

Options:

`

// generator is one parsed command line (bpf2go's bpf2go struct).
type generator struct {
	stdout  io.Writer
	verbose bool
	// sourceFile is the absolute path of the C file.
	sourceFile string
	outputDir  string
	// outputStem replaces the lower-cased identStem in file names.
	outputStem   string
	outputSuffix string
	pkg          string
	identStem    string
	targets      map[gen.Target]gen.GoArches
	cc           string
	strip        string
	noStrip      bool
	cFlags       []string
	noGlobal     bool
	cTypes       cTypes
	tags         buildTags
	// makeBase, if set, is the absolute directory make-style dependency
	// files are written relative to.
	makeBase string
}

// Run runs the generator on a bpf2go command line; name is the command's
// name in its usage text, stdout receives the usage, the list of targets
// and -verbose output. Asking for help is not an error.
func Run(name string, stdout io.Writer, args []string) error {
	g, err := parse(name, stdout, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil
	case err != nil:
		return err
	}
	return g.convertAll()
}

func (g *generator) debug(a ...any) {
	if g.verbose {
		fmt.Fprintln(g.stdout, a...)
	}
}

// parse reads the flags, positional arguments and environment the way
// bpf2go's newB2G does: same names, defaults and checks.
func parse(name string, stdout io.Writer, args []string) (*generator, error) {
	g := &generator{stdout: stdout}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.BoolVar(&g.verbose, "verbose", getBool("V", false), "Enable verbose logging ($V)")
	fs.StringVar(&g.cc, "cc", getEnv("BPF2GO_CC", "clang"),
		"`binary` used to compile C to BPF ($BPF2GO_CC)")
	fs.StringVar(&g.strip, "strip", getEnv("BPF2GO_STRIP", ""),
		"`binary` used to strip DWARF from compiled BPF ($BPF2GO_STRIP)")
	fs.BoolVar(&g.noStrip, "no-strip", false, "disable stripping of DWARF")
	cflags := fs.String("cflags", getEnv("BPF2GO_CFLAGS", ""),
		"flags passed to the compiler, may contain quoted arguments ($BPF2GO_CFLAGS)")
	fs.Var(&g.tags, "tags", "Comma-separated list of Go build tags to include in generated files")
	targets := fs.String("target", "bpfel,bpfeb", "clang target(s) to compile for (comma separated)")
	fs.StringVar(&g.makeBase, "makebase", getEnv("BPF2GO_MAKEBASE", ""),
		"write make compatible depinfo files relative to `directory` ($BPF2GO_MAKEBASE)")
	fs.Var(&g.cTypes, "type", "`Name` of a type to generate a Go declaration for, may be repeated")
	fs.BoolVar(&g.noGlobal, "no-global-types", false, "Skip generating types for map keys and values, etc.")
	fs.StringVar(&g.outputStem, "output-stem", "", "alternative stem for names of generated files (defaults to ident)")
	suffix := ""
	if strings.HasSuffix(getEnv("GOFILE", ""), "_test.go") {
		suffix = "_test"
	}
	fs.StringVar(&g.outputSuffix, "output-suffix", suffix,
		"suffix in generated file names such as _test (default based on $GOFILE)")
	fs.StringVar(&g.outputDir, "output-dir", "", "target directory of generated files (defaults to current directory)")
	fs.StringVar(&g.pkg, "go-package", "", "package for output go file (default as ENV GOPACKAGE)")
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), helpText, fs.Name())
		fs.PrintDefaults()
		fmt.Fprintln(fs.Output())
		printTargets(fs.Output())
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}

	if g.outputDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("output directory: %w", err)
		}
		g.outputDir = wd
	}
	if g.pkg == "" {
		g.pkg = os.Getenv("GOPACKAGE")
	}
	if g.pkg == "" {
		return nil, errors.New("missing package, you should either set the go-package flag or the GOPACKAGE env")
	}

	// A compiler like "ccache clang" passes its other words as flags.
	ccParts := strings.Fields(g.cc)
	if len(ccParts) == 0 {
		return nil, errors.New("no compiler specified")
	}
	g.cc = ccParts[0]

	pos, cFlags := fs.Args(), []string(nil)
	if i := slices.Index(pos, "--"); i >= 0 {
		pos, cFlags = pos[:i], pos[i+1:]
	}
	if *cflags != "" {
		split, err := splitArguments(*cflags)
		if err != nil {
			return nil, fmt.Errorf("-cflags: %w", err)
		}
		// Flags after -- take precedence: they come last.
		cFlags = append(split, cFlags...)
	}
	for _, f := range cFlags {
		if strings.HasPrefix(f, "-M") {
			return nil, fmt.Errorf("use -makebase instead of %q", f)
		}
	}
	g.cFlags = append(ccParts[1:], cFlags...)

	if len(pos) < 2 {
		return nil, errors.New("expected at least two arguments")
	}
	g.identStem = pos[0]
	var err error
	if g.sourceFile, err = filepath.Abs(pos[1]); err != nil {
		return nil, fmt.Errorf("source file: %w", err)
	}
	if g.makeBase != "" {
		if g.makeBase, err = filepath.Abs(g.makeBase); err != nil {
			return nil, fmt.Errorf("-makebase: %w", err)
		}
	}
	if strings.ContainsRune(g.outputStem, filepath.Separator) {
		return nil, fmt.Errorf("-output-stem %q must not contain path separation characters", g.outputStem)
	}
	if strings.ContainsRune(g.outputSuffix, filepath.Separator) {
		return nil, fmt.Errorf("-output-suffix %q must not contain path separation characters", g.outputSuffix)
	}

	g.targets = make(map[gen.Target]gen.GoArches)
	for name := range strings.SplitSeq(*targets, ",") {
		target, goarches, err := gen.FindTarget(name)
		if err != nil {
			if errors.Is(err, gen.ErrInvalidTarget) {
				printTargets(stdout)
				fmt.Fprintln(stdout)
			}
			return nil, err
		}
		g.targets[target] = goarches
	}

	// Find llvm-strip with the version suffix of the clang binary, if any.
	if g.strip == "" {
		g.strip = "llvm-strip"
		if after, ok := strings.CutPrefix(g.cc, "clang"); ok {
			g.strip += after
		}
	}
	return g, nil
}

func (g *generator) convertAll() error {
	if _, err := os.Stat(g.sourceFile); os.IsNotExist(err) {
		return fmt.Errorf("file %s doesn't exist", g.sourceFile)
	} else if err != nil {
		return err
	}
	if !g.noStrip {
		strip, err := exec.LookPath(g.strip)
		if err != nil {
			return err
		}
		g.strip = strip
	}
	for target, goarches := range g.targets {
		if err := g.convert(target, goarches); err != nil {
			return err
		}
	}
	return nil
}

// convert compiles the source for one target and writes the object, the
// Go file and, with -makebase, the dependency file.
func (g *generator) convert(tgt gen.Target, goarches gen.GoArches) error {
	outputStem := g.outputStem
	if outputStem == "" {
		outputStem = strings.ToLower(g.identStem)
	}
	stem := fmt.Sprintf("%s_%s%s", outputStem, tgt.Suffix(), g.outputSuffix)
	outDir, err := filepath.Abs(g.outputDir)
	if err != nil {
		return err
	}
	objFile := filepath.Join(outDir, stem+".o")
	goFile := filepath.Join(outDir, stem+".go")
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := g.removeObsolete(outputStem, tgt); err != nil {
		return fmt.Errorf("remove obsolete output: %w", err)
	}

	cFlags := slices.Clone(g.cFlags)
	var depFile string
	if g.makeBase != "" {
		f, err := os.CreateTemp("", "bpf2go")
		if err != nil {
			return err
		}
		depFile = f.Name()
		f.Close()
		defer os.Remove(depFile)
		cFlags = append(cFlags, "-MD", "-MP", "-MF"+depFile)
	}

	err = gen.Compile(gen.CompileArgs{
		CC:               g.cc,
		Strip:            g.strip,
		DisableStripping: g.noStrip,
		Flags:            cFlags,
		Target:           tgt,
		Workdir:          cwd,
		Source:           g.sourceFile,
		Dest:             objFile,
	})
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	if g.noStrip {
		g.debug("Compiled object", "file", objFile)
	} else {
		g.debug("Compiled and stripped object", "file", objFile)
	}

	src, err := g.generate(objFile, goarches)
	if err != nil {
		// Leave no Go file that embeds a stale object: bpf2go removes
		// it when generating fails, this also when loading does.
		if rmErr := os.Remove(goFile); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
		return fmt.Errorf("can't write %s: %w", goFile, err)
	}
	if err := os.WriteFile(goFile, src, 0o666); err != nil {
		return err
	}
	g.debug("Generated bpf2go binding", "file", goFile)

	if depFile != "" {
		if err := writeDependencies(goFile+".d", depFile, cwd, goFile, g.makeBase); err != nil {
			return err
		}
		g.debug("Wrote dependency", "file", goFile+".d")
	}
	return nil
}

// generate returns the Go file for an object: bpf2go's, importing xebpf.
func (g *generator) generate(objFile string, goarches gen.GoArches) ([]byte, error) {
	spec, err := ebpf.LoadCollectionSpec(objFile)
	if err != nil {
		return nil, fmt.Errorf("can't load BPF from ELF: %w", err)
	}
	var maps, variables, programs []string
	for name := range spec.Maps {
		// Skip .rodata, .data, .bss, etc.
		if !strings.HasPrefix(name, ".") {
			maps = append(maps, name)
		}
	}
	for name := range spec.Variables {
		variables = append(variables, name)
	}
	for name := range spec.Programs {
		programs = append(programs, name)
	}
	types, err := g.cTypes.collect(spec.Types)
	if err != nil {
		return nil, fmt.Errorf("collect C types: %w", err)
	}
	if !g.noGlobal {
		types = append(types, gen.CollectGlobalTypes(spec)...)
	}

	var buf bytes.Buffer
	err = gen.Generate(gen.GenerateArgs{
		Package:     g.pkg,
		Stem:        g.identStem,
		Constraints: andConstraints(goarches.Constraint(), g.tags.Expr),
		Maps:        maps,
		Variables:   variables,
		Programs:    programs,
		Types:       types,
		ObjectFile:  filepath.Base(objFile),
		Output:      &buf,
	})
	if err != nil {
		return nil, err
	}
	return rewriteImport(buf.Bytes())
}

// rewriteImport changes the import of github.com/cilium/ebpf in a Go file
// into one of github.com/xebpf/xebpf named ebpf and returns the file
// gofmt'ed. It fails with ErrCiliumImport if the file imports another
// cilium/ebpf package, or does not import cilium/ebpf at all.
func rewriteImport(src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "", src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("parse generated code: %w", err)
	}
	rewritten := false
	for _, imp := range file.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", imp.Path.Value, err)
		}
		switch {
		case path == ciliumModule && imp.Name == nil:
			imp.Name = &ast.Ident{Name: importName, NamePos: imp.Path.ValuePos}
			imp.Path.Value = strconv.Quote(xebpfModule)
			rewritten = true
		case path == ciliumModule || strings.HasPrefix(path, ciliumModule+"/"):
			return nil, fmt.Errorf("%w: %s", ErrCiliumImport, imp.Path.Value)
		}
	}
	if !rewritten {
		return nil, fmt.Errorf("%w: no import of %q to rewrite", ErrCiliumImport, ciliumModule)
	}
	var out bytes.Buffer
	if err := format.Node(&out, fset, file); err != nil {
		return nil, fmt.Errorf("format generated code: %w", err)
	}
	return out.Bytes(), nil
}

// removeObsolete removes files an older bpf2go wrote under names that the
// go tool reads as build constraints.
func (g *generator) removeObsolete(outputStem string, tgt gen.Target) error {
	suffix := tgt.ObsoleteSuffix()
	if suffix == "" {
		return nil
	}
	for _, ext := range []string{".o", ".go"} {
		name := filepath.Join(g.outputDir, outputStem+"_"+suffix+ext)
		if err := os.Remove(name); errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		g.debug("Removed obsolete output file", "file", name)
	}
	return nil
}

// getEnv returns the environment variable key, or def if it is unset.
func getEnv(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// getBool returns the environment variable key as a boolean, or def if
// it is unset or not a boolean.
func getBool(key string, def bool) bool {
	b, err := strconv.ParseBool(os.Getenv(key))
	if err != nil {
		return def
	}
	return b
}
