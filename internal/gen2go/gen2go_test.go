//go:build !windows

package gen2go

import (
	"bytes"
	"debug/elf"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The compiler and stripper the tests use; tests that compile skip when
// they are missing.
const (
	clang = "clang-19"
	strip = "llvm-strip-19"
)

// envVars are the variables bpf2go reads; every test starts with none set.
var envVars = []string{"BPF2GO_CC", "BPF2GO_STRIP", "BPF2GO_CFLAGS", "BPF2GO_MAKEBASE", "BPF2GO_FLAGS", "V", "GOFILE", "GOPACKAGE"}

func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range envVars {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

func requireClang(t *testing.T) {
	t.Helper()
	for _, bin := range []string{clang, strip} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed: %v", bin, err)
		}
	}
}

var (
	bpf2goOnce sync.Once
	bpf2goPath string
	bpf2goErr  error
)

// bpf2go builds cilium/ebpf's bpf2go, at the version go.mod requires.
func bpf2go(t *testing.T) string {
	t.Helper()
	bpf2goOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gen2go-bpf2go")
		if err != nil {
			bpf2goErr = err
			return
		}
		bpf2goPath = filepath.Join(dir, "bpf2go")
		out, err := exec.Command("go", "build", "-o", bpf2goPath, "github.com/cilium/ebpf/cmd/bpf2go").CombinedOutput()
		if err != nil {
			bpf2goErr = errors.New(string(out))
		}
	})
	if bpf2goErr != nil {
		t.Fatalf("build bpf2go: %v", bpf2goErr)
	}
	return bpf2goPath
}

// output is what a run leaves behind: the files under the working
// directory (but the C source) and what it printed.
type output struct {
	files  map[string][]byte
	stdout string
	err    error
}

// snapshot reads the files under dir but gen.c, then removes them.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == filepath.Join(dir, "gen.c") {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if files[rel], err = os.ReadFile(path); err != nil {
			return err
		}
		return os.Remove(path)
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sortedNames(files map[string][]byte) []string {
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// genCase is a command line and environment to run both generators with.
type genCase struct {
	name string
	env  map[string]string
	args []string
	// setup runs in the working directory before each generator.
	setup func(t *testing.T, dir string)
	// files are the names the run must leave, relative to the working
	// directory; wantErr says that both generators must fail, ours
	// with this in its message.
	files   []string
	wantErr string
	check   func(t *testing.T, out output)
}

// runBoth runs bpf2go and then gen2go, in-process, in the same directory
// and environment, and returns gen2go's output after checking that it is
// bpf2go's but for the import of xebpf.
func runBoth(t *testing.T, c genCase) output {
	t.Helper()
	requireClang(t)
	bin := bpf2go(t)
	clearEnv(t)
	for k, v := range c.env {
		t.Setenv(k, v)
	}
	src, err := os.ReadFile("testdata/gen.c")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gen.c"), src, 0o666); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)

	if c.setup != nil {
		c.setup(t, dir)
	}
	cmd := exec.Command(bin, c.args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	refErr := cmd.Run()
	ref := output{snapshot(t, dir), stdout.String(), refErr}

	if c.setup != nil {
		c.setup(t, dir)
	}
	stdout.Reset()
	err = Run("xebpf2go", &stdout, c.args)
	got := output{snapshot(t, dir), stdout.String(), err}

	if c.wantErr != "" {
		if refErr == nil {
			t.Errorf("bpf2go succeeded, want it to fail like xebpf2go")
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Fatalf("Run: %v, want an error containing %q", err, c.wantErr)
		}
		return got
	}
	if refErr != nil {
		t.Fatalf("bpf2go: %v\n%s%s", refErr, ref.stdout, stderr.String())
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if names, want := sortedNames(got.files), slices.Sorted(slices.Values(c.files)); !slices.Equal(names, want) {
		t.Fatalf("xebpf2go wrote %q, want %q", names, want)
	}
	if names, want := sortedNames(ref.files), sortedNames(got.files); !slices.Equal(names, want) {
		t.Fatalf("bpf2go wrote %q, xebpf2go %q", names, want)
	}
	for name, data := range got.files {
		if strings.HasSuffix(name, ".go") {
			checkImports(t, name, data)
			data = bytes.Replace(data, []byte("\tebpf \"github.com/xebpf/xebpf\"\n"), []byte("\t\"github.com/cilium/ebpf\"\n"), 1)
		}
		if !bytes.Equal(data, ref.files[name]) {
			t.Errorf("%s differs from bpf2go's:\n%s\nbpf2go's:\n%s", name, data, ref.files[name])
		}
	}
	return got
}

// checkImports checks that a generated file parses and imports xebpf as
// ebpf and no package of cilium/ebpf.
func checkImports(t *testing.T, name string, src []byte) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
	if err != nil {
		t.Fatalf("%s does not parse: %v", name, err)
	}
	found := false
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		switch {
		case path == "github.com/xebpf/xebpf":
			if imp.Name == nil || imp.Name.Name != "ebpf" {
				t.Errorf("%s imports %s not as ebpf", name, path)
			}
			found = true
		case strings.HasPrefix(path, "github.com/cilium/ebpf"):
			t.Errorf("%s imports %s", name, path)
		}
	}
	if !found {
		t.Errorf("%s does not import github.com/xebpf/xebpf", name)
	}
}

func include(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../include")
	if err != nil {
		t.Fatal(err)
	}
	return "-I" + dir
}

func contains(file string, want ...string) func(*testing.T, output) {
	return func(t *testing.T, out output) {
		t.Helper()
		for _, w := range want {
			if !bytes.Contains(out.files[file], []byte(w)) {
				t.Errorf("%s lacks %q:\n%s", file, w, out.files[file])
			}
		}
	}
}

func lacks(file string, unwanted ...string) func(*testing.T, output) {
	return func(t *testing.T, out output) {
		t.Helper()
		for _, w := range unwanted {
			if bytes.Contains(out.files[file], []byte(w)) {
				t.Errorf("%s has %q", file, w)
			}
		}
	}
}

func all(checks ...func(*testing.T, output)) func(*testing.T, output) {
	return func(t *testing.T, out output) {
		t.Helper()
		for _, c := range checks {
			c(t, out)
		}
	}
}

// hasDWARF reports whether an object has a .debug_info section.
func hasDWARF(t *testing.T, obj []byte) bool {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		t.Fatalf("object: %v", err)
	}
	return f.Section(".debug_info") != nil
}

func stripped(file string, want bool) func(*testing.T, output) {
	return func(t *testing.T, out output) {
		t.Helper()
		if hasDWARF(t, out.files[file]) == want {
			t.Errorf("%s: stripped is %v, want %v", file, !want, want)
		}
	}
}

// TestMatchesBpf2go runs xebpf2go and bpf2go on the same command lines and
// checks that they write the same files but for the import of the Go
// files: a map with a struct value, a program, a volatile const, .bss
// variables and a -type struct.
func TestMatchesBpf2go(t *testing.T) {
	inc := include(t)
	cases := []genCase{{
		name:  "default",
		env:   map[string]string{"GOPACKAGE": "foo"},
		args:  []string{"-cc", clang, "-type", "event", "Gen", "gen.c", "--", inc},
		files: []string{"gen_bpfel.go", "gen_bpfel.o", "gen_bpfeb.go", "gen_bpfeb.o"},
		check: all(
			contains("gen_bpfel.go", "package foo", "type GenEvent struct", "type GenStats struct",
				`GenMapCounts        = "counts"`, `GenProgCountPackets = "count_packets"`,
				`GenVarMinLen        = "min_len"`, `GenVarSeen          = "seen"`,
				"//go:embed gen_bpfel.o", "//go:build 386 || amd64"),
			contains("gen_bpfeb.go", "//go:build mips || mips64 || ppc64 || s390x"),
			stripped("gen_bpfel.o", true)),
	}, {
		name: "options",
		args: []string{"-cc", clang, "-go-package", "bar", "-no-global-types", "-type", "event", "-target", "amd64,arm64",
			"-tags", "linux,!race", "-output-dir", "out", "-output-stem", "custom", "-output-suffix", "_suffix",
			"-no-strip", "lower", "gen.c", "--", inc},
		setup: func(t *testing.T, dir string) {
			// The obsolete names of amd64's files, which both remove.
			for _, name := range []string{"custom_bpfel_x86.go", "custom_bpfel_x86.o"} {
				if err := os.MkdirAll(filepath.Join(dir, "out"), 0o777); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "out", name), nil, 0o666); err != nil {
					t.Fatal(err)
				}
			}
		},
		files: []string{"out/custom_x86_bpfel_suffix.go", "out/custom_x86_bpfel_suffix.o",
			"out/custom_arm64_bpfel_suffix.go", "out/custom_arm64_bpfel_suffix.o"},
		check: all(
			contains("out/custom_x86_bpfel_suffix.go", "package bar", "type lowerEvent struct",
				"func loadLowerObjects(", "//go:build (386 || amd64) && linux && !race"),
			lacks("out/custom_x86_bpfel_suffix.go", "lowerStats"),
			stripped("out/custom_arm64_bpfel_suffix.o", false)),
	}, {
		name:  "cflags precedence",
		env:   map[string]string{"GOPACKAGE": "foo"},
		args:  []string{"-cc", clang, "-target", "bpfel", "-cflags", `-DEXTRA_VAR=from_cflags '-DUNUSED=a b'`, "Gen", "gen.c", "--", inc, "-DEXTRA_VAR=from_args"},
		files: []string{"gen_bpfel.go", "gen_bpfel.o"},
		check: all(contains("gen_bpfel.go", `"from_args"`), lacks("gen_bpfel.go", "from_cflags")),
	}, {
		name:    "invalid identifier",
		env:     map[string]string{"GOPACKAGE": "foo"},
		args:    []string{"-cc", clang, "-target", "bpfel", "1gen", "gen.c", "--", inc},
		wantErr: `"1gen" is not a valid identifier`,
		check: func(t *testing.T, out output) {
			if _, ok := out.files["1gen_bpfel.go"]; ok {
				t.Error("Go file written after an error")
			}
		},
	}, {
		name:    "unknown type",
		env:     map[string]string{"GOPACKAGE": "foo"},
		args:    []string{"-cc", clang, "-target", "bpfel", "-type", "nosuch", "Gen", "gen.c", "--", inc},
		wantErr: "looking up type nosuch",
	}, {
		name:    "compile error",
		env:     map[string]string{"GOPACKAGE": "foo"},
		args:    []string{"-cc", clang, "-target", "bpfel", "Gen", "gen.c"},
		wantErr: "compile: exit status 1",
	}, {
		name:    "missing source",
		env:     map[string]string{"GOPACKAGE": "foo"},
		args:    []string{"-cc", clang, "Gen", "nosuch.c"},
		wantErr: "nosuch.c doesn't exist",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := runBoth(t, c)
			if c.check != nil {
				c.check(t, out)
			}
		})
	}
}

// TestEnv checks that the variables bpf2go reads do what they do for
// bpf2go, by running both with them set, and that BPF2GO_FLAGS, which
// bpf2go ignores, is ignored.
func TestEnv(t *testing.T) {
	inc := include(t)
	stripLog := filepath.Join(t.TempDir(), "strip.log")
	stripScript := filepath.Join(t.TempDir(), "strip.sh")
	if err := os.WriteFile(stripScript, []byte("#!/bin/sh\necho \"$@\" >> "+stripLog+"\nexec "+strip+" \"$@\"\n"), 0o777); err != nil {
		t.Fatal(err)
	}
	// onlyClang is a PATH with clang-19 and llvm-strip-19, without llvm-strip.
	onlyClang := t.TempDir()
	for _, bin := range []string{clang, strip} {
		path, err := exec.LookPath(bin)
		if err != nil {
			t.Skipf("%s not installed: %v", bin, err)
		}
		if err := os.Symlink(path, filepath.Join(onlyClang, bin)); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{"-target", "bpfel", "Gen", "gen.c", "--", inc}
	cases := []genCase{{
		name:  "BPF2GO_CC with flags",
		env:   map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang + " -DEXTRA_VAR=from_cc"},
		args:  base,
		files: []string{"gen_bpfel.go", "gen_bpfel.o"},
		check: all(contains("gen_bpfel.go", `GenVarFromCc`), stripped("gen_bpfel.o", true)),
	}, {
		name:  "-cc over BPF2GO_CC",
		env:   map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": "nosuch-clang"},
		args:  append([]string{"-cc", clang}, base...),
		files: []string{"gen_bpfel.go", "gen_bpfel.o"},
	}, {
		name:    "BPF2GO_CC missing",
		env:     map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": "nosuch-clang", "BPF2GO_STRIP": strip},
		args:    base,
		wantErr: `compile: exec: "nosuch-clang": executable file not found`,
	}, {
		name:  "BPF2GO_CFLAGS",
		env:   map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang, "BPF2GO_CFLAGS": `-DEXTRA_VAR=from_env "-DUNUSED=a b"`},
		args:  base,
		files: []string{"gen_bpfel.go", "gen_bpfel.o"},
		check: contains("gen_bpfel.go", `"from_env"`),
	}, {
		name:  "-cflags over BPF2GO_CFLAGS",
		env:   map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang, "BPF2GO_CFLAGS": "-DEXTRA_VAR=from_env"},
		args:  append([]string{"-cflags", "-DEXTRA_VAR=from_flag"}, base...),
		files: []string{"gen_bpfel.go", "gen_bpfel.o"},
		check: all(contains("gen_bpfel.go", `"from_flag"`), lacks("gen_bpfel.go", "from_env")),
	}, {
		name:    "BPF2GO_CFLAGS with -M",
		env:     map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang, "BPF2GO_CFLAGS": "-MD"},
		args:    base,
		wantErr: `use -makebase instead of "-MD"`,
	}, {
		name:  "BPF2GO_STRIP",
		env:   map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang, "BPF2GO_STRIP": stripScript},
		args:  base,
		files: []string{"gen_bpfel.go", "gen_bpfel.o"},
		check: func(t *testing.T, out output) {
			log, err := os.ReadFile(stripLog)
			if err != nil {
				t.Fatal(err)
			}
			// Once by bpf2go, once by xebpf2go.
			if n := bytes.Count(log, []byte("-g ")); n != 2 {
				t.Errorf("BPF2GO_STRIP ran %d times, want 2:\n%s", n, log)
			}
			stripped("gen_bpfel.o", true)(t, out)
		},
	}, {
		name:    "BPF2GO_STRIP missing",
		env:     map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang, "BPF2GO_STRIP": "nosuch-strip"},
		args:    base,
		wantErr: `exec: "nosuch-strip": executable file not found`,
	}, {
		name:  "-no-strip over BPF2GO_STRIP",
		env:   map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang, "BPF2GO_STRIP": "nosuch-strip"},
		args:  append([]string{"-no-strip"}, base...),
		files: []string{"gen_bpfel.go", "gen_bpfel.o"},
		check: stripped("gen_bpfel.o", false),
	}, {
		name:  "strip named after the compiler",
		env:   map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang, "PATH": onlyClang},
		args:  base,
		files: []string{"gen_bpfel.go", "gen_bpfel.o"},
		check: stripped("gen_bpfel.o", true),
	}, {
		name: "BPF2GO_MAKEBASE",
		env:  map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang, "BPF2GO_MAKEBASE": "."},
		args: append([]string{"-output-dir", "out"}, base...),
		setup: func(t *testing.T, dir string) {
			if err := os.MkdirAll(filepath.Join(dir, "out"), 0o777); err != nil {
				t.Fatal(err)
			}
		},
		files: []string{"out/gen_bpfel.go", "out/gen_bpfel.o", "out/gen_bpfel.go.d"},
		check: contains("out/gen_bpfel.go.d", "out/gen_bpfel.go: \\\n gen.c \\\n ", "include/xebpf/bpf.h"),
	}, {
		name:  "-makebase over BPF2GO_MAKEBASE",
		env:   map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang, "BPF2GO_MAKEBASE": "/nonexistent"},
		args:  append([]string{"-makebase", "."}, base...),
		files: []string{"gen_bpfel.go", "gen_bpfel.o", "gen_bpfel.go.d"},
		check: contains("gen_bpfel.go.d", "gen_bpfel.go: \\\n gen.c \\\n "),
	}, {
		name:  "GOFILE of a test",
		env:   map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang, "GOFILE": "gen_test.go"},
		args:  base,
		files: []string{"gen_bpfel_test.go", "gen_bpfel_test.o"},
	}, {
		name:  "-go-package over GOPACKAGE",
		env:   map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang},
		args:  append([]string{"-go-package", "bar"}, base...),
		files: []string{"gen_bpfel.go", "gen_bpfel.o"},
		check: contains("gen_bpfel.go", "package bar"),
	}, {
		name:  "V",
		env:   map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang, "V": "1"},
		args:  base,
		files: []string{"gen_bpfel.go", "gen_bpfel.o"},
		check: func(t *testing.T, out output) {
			for _, want := range []string{"Compiled and stripped object file ", "Generated bpf2go binding file "} {
				if !strings.Contains(out.stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out.stdout)
				}
			}
		},
	}, {
		name:  "BPF2GO_FLAGS ignored",
		env:   map[string]string{"GOPACKAGE": "foo", "BPF2GO_CC": clang, "BPF2GO_FLAGS": "-DEXTRA_VAR=from_flags"},
		args:  base,
		files: []string{"gen_bpfel.go", "gen_bpfel.o"},
		check: lacks("gen_bpfel.go", "from_flags", "FromFlags"),
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := runBoth(t, c)
			if c.check != nil {
				c.check(t, out)
			}
		})
	}
}

// TestRefused checks the command lines refused before compiling: the
// error says why, and nothing is written.
func TestRefused(t *testing.T) {
	cases := []struct {
		name   string
		env    map[string]string
		args   []string
		want   string
		stdout string
	}{
		{"unknown flag", nil, []string{"-go-package", "p", "-nosuch", "G", "gen.c"}, "flag provided but not defined: -nosuch", "Usage: xebpf2go"},
		{"flag without value", nil, []string{"-go-package", "p", "-target"}, "flag needs an argument: -target", ""},
		{"no package", nil, []string{"G", "gen.c"}, "missing package, you should either set the go-package flag or the GOPACKAGE env", ""},
		{"no compiler", nil, []string{"-go-package", "p", "-cc", " ", "G", "gen.c"}, "no compiler specified", ""},
		{"no compiler from env", map[string]string{"BPF2GO_CC": ""}, []string{"-go-package", "p", "G", "gen.c"}, "no compiler specified", ""},
		{"-M after --", nil, []string{"-go-package", "p", "G", "gen.c", "--", "-MD"}, `use -makebase instead of "-MD"`, ""},
		{"-M in -cflags", nil, []string{"-go-package", "p", "-cflags", "-MF x", "G", "gen.c"}, `use -makebase instead of "-MF"`, ""},
		{"one argument", nil, []string{"-go-package", "p", "G"}, "expected at least two arguments", ""},
		{"stem with separator", nil, []string{"-go-package", "p", "-output-stem", "a/b", "G", "gen.c"}, `-output-stem "a/b" must not contain path separation characters`, ""},
		{"suffix with separator", nil, []string{"-go-package", "p", "-output-suffix", "a/b", "G", "gen.c"}, `-output-suffix "a/b" must not contain path separation characters`, ""},
		{"unknown target", nil, []string{"-go-package", "p", "-target", "bpfel,vax", "G", "gen.c"}, "unsupported target", "Supported targets:\n\tbpf\n\tbpfel\n\tbpfeb\n\t386\n"},
		{"bad type", nil, []string{"-go-package", "p", "-type", "struct event", "G", "gen.c"}, `invalid value "struct event" for flag -type: "struct event" contains characters outside of [a-z0-9_]`, ""},
		{"duplicate type", nil, []string{"-go-package", "p", "-type", "a", "-type", "b", "-type", "a", "G", "gen.c"}, `duplicate type "a"`, ""},
		{"bad tags", nil, []string{"-go-package", "p", "-tags", "a\nb", "G", "gen.c"}, `invalid value "a\nb" for flag -tags: not a build constraint`, ""},
		{"unterminated quote", nil, []string{"-go-package", "p", "-cflags", `-DA="b`, "G", "gen.c"}, "-cflags: missing `\"`", ""},
		{"unterminated quote from env", map[string]string{"BPF2GO_CFLAGS": `'-DA`}, []string{"-go-package", "p", "G", "gen.c"}, "-cflags: missing `'`", ""},
		{"unfinished escape", nil, []string{"-go-package", "p", "-cflags", `-DA\`, "G", "gen.c"}, "-cflags: unfinished escape", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			t.Chdir(dir)
			var stdout bytes.Buffer
			err := Run("xebpf2go", &stdout, c.args)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Run: %v, want an error containing %q", err, c.want)
			}
			if !strings.Contains(stdout.String(), c.stdout) {
				t.Errorf("stdout lacks %q:\n%s", c.stdout, stdout.String())
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("refused command wrote %v", entries)
			}
		})
	}
}

// TestHelp checks that -h prints bpf2go's usage under the given name and
// is not an error.
func TestHelp(t *testing.T) {
	clearEnv(t)
	t.Setenv("BPF2GO_CC", "clang-from-env")
	var stdout bytes.Buffer
	if err := Run("xebpf gen", &stdout, []string{"-h"}); err != nil {
		t.Fatalf("Run -h: %v", err)
	}
	for _, want := range []string{
		"Usage: xebpf gen [options] <ident> <source file> [-- <C flags>]",
		"imports github.com/xebpf/xebpf as ebpf",
		"-cc binary", `(default "clang-from-env")`, "-makebase directory", "-no-global-types", "-output-suffix",
		"Supported targets:\n\tbpf\n\tbpfel\n\tbpfeb\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestRewriteImport checks the rewrite on its own: only the import of
// cilium/ebpf changes, and other cilium/ebpf imports are refused.
func TestRewriteImport(t *testing.T) {
	cases := []struct {
		name, in, want string
		err            error
	}{{
		name: "rewritten",
		in:   "// Code generated.\n\npackage p\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/cilium/ebpf\"\n)\n\n// X is.\nvar X = fmt.Sprint(ebpf.Map{})\n",
		want: "// Code generated.\n\npackage p\n\nimport (\n\t\"fmt\"\n\n\tebpf \"github.com/xebpf/xebpf\"\n)\n\n// X is.\nvar X = fmt.Sprint(ebpf.Map{})\n",
	}, {
		name: "single import",
		in:   "package p\n\nimport \"github.com/cilium/ebpf\"\n\nvar _ ebpf.Map\n",
		want: "package p\n\nimport ebpf \"github.com/xebpf/xebpf\"\n\nvar _ ebpf.Map\n",
	}, {
		name: "other cilium package",
		in:   "package p\n\nimport (\n\t\"github.com/cilium/ebpf\"\n\t\"github.com/cilium/ebpf/btf\"\n)\n",
		err:  ErrCiliumImport,
	}, {
		name: "renamed import",
		in:   "package p\n\nimport cebpf \"github.com/cilium/ebpf\"\n",
		err:  ErrCiliumImport,
	}, {
		name: "no import",
		in:   "package p\n",
		err:  ErrCiliumImport,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := rewriteImport([]byte(c.in))
			if !errors.Is(err, c.err) {
				t.Fatalf("rewriteImport: %v, want %v", err, c.err)
			}
			if c.err == nil && string(got) != c.want {
				t.Errorf("rewriteImport:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
	if _, err := rewriteImport([]byte("package")); err == nil {
		t.Error("rewriteImport accepted code that does not parse")
	}
}
