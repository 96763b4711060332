//go:build !windows

// The parsing helpers in this file are carried over from cilium/ebpf
// v0.22.0 cmd/bpf2go (main.go, flags.go, tools.go and makedep.go), which
// is package main and cannot be imported, so that xebpf2go reads the same
// command lines and writes the same dependency files as bpf2go.
//
// MIT License. Copyright (c) 2017 Nathan Sweet, Copyright (c) 2018, 2019
// Cloudflare, Copyright (c) 2019 Authors of Cilium.

package gen2go

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/build/constraint"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/cmd/bpf2go/gen"
)

// cTypes are the names given to -type: unique, sorted, and limited to
// [a-z0-9_] so that the flag's syntax may grow.
type cTypes []string

var _ flag.Value = (*cTypes)(nil)

var reValidCType = regexp.MustCompile(`(?i)^[a-z0-9_]+$`)

func (ct *cTypes) String() string {
	if ct == nil {
		return "[]"
	}
	return fmt.Sprint(*ct)
}

func (ct *cTypes) Set(value string) error {
	if !reValidCType.MatchString(value) {
		return fmt.Errorf("%q contains characters outside of [a-z0-9_]", value)
	}
	if slices.Contains(*ct, value) {
		return fmt.Errorf("duplicate type %q", value)
	}
	*ct = append(*ct, value)
	slices.Sort(*ct)
	return nil
}

// collect looks the types up by name in the object's BTF.
func (ct cTypes) collect(types *btf.Spec) ([]btf.Type, error) {
	var result []btf.Type
	for _, name := range ct {
		typ, err := types.AnyTypeByName(name)
		if err != nil {
			return nil, fmt.Errorf("looking up type %s: %w", name, err)
		}
		result = append(result, typ)
	}
	return result, nil
}

// buildTags is -tags: a comma-separated list of build tags in the
// pre-Go 1.17 syntax.
type buildTags struct{ Expr constraint.Expr }

var _ flag.Value = (*buildTags)(nil)

func (bt *buildTags) String() string {
	if bt.Expr == nil {
		return ""
	}
	return bt.Expr.String()
}

func (bt *buildTags) Set(value string) error {
	expr, err := constraint.Parse("// +build " + value)
	if err != nil {
		return err
	}
	bt.Expr = expr
	return nil
}

func andConstraints(x, y constraint.Expr) constraint.Expr {
	switch {
	case x == nil:
		return y
	case y == nil:
		return x
	}
	return &constraint.AndExpr{X: x, Y: y}
}

// splitArguments splits -cflags into words, honouring '…', "…" and \.
func splitArguments(in string) ([]string, error) {
	var (
		result  []string
		builder strings.Builder
		escaped bool
		delim   = ' '
	)
	for _, r := range strings.TrimSpace(in) {
		if escaped {
			builder.WriteRune(r)
			escaped = false
			continue
		}
		switch r {
		case '\\':
			escaped = true
		case delim:
			current := builder.String()
			builder.Reset()
			// Quotes delimit empty words, spaces do not.
			if current != "" || delim != ' ' {
				result = append(result, current)
			}
			delim = ' '
		case '"', '\'', ' ':
			if delim == ' ' {
				delim = r
				continue
			}
			fallthrough
		default:
			builder.WriteRune(r)
		}
	}
	if delim != ' ' {
		return nil, fmt.Errorf("missing `%c`", delim)
	}
	if escaped {
		return nil, errors.New("unfinished escape")
	}
	if builder.Len() > 0 {
		result = append(result, builder.String())
	}
	return result, nil
}

func printTargets(w io.Writer) {
	var arches []string
	for goarch, target := range gen.TargetsByGoArch() {
		if !target.IsGeneric() {
			arches = append(arches, string(goarch))
		}
	}
	sort.Strings(arches)
	fmt.Fprint(w, "Supported targets:\n")
	fmt.Fprint(w, "\tbpf\n\tbpfel\n\tbpfeb\n")
	for _, arch := range arches {
		fmt.Fprintf(w, "\t%s\n", arch)
	}
}

// writeDependencies turns the compiler's make dependencies (clang -MD -MP
// -MF depFile, relative to cwd) into goFile's, relative to makeBase, and
// writes them to name.
func writeDependencies(name, depFile, cwd, goFile, makeBase string) error {
	in, err := os.ReadFile(depFile)
	if err != nil {
		return fmt.Errorf("can't read dependency information: %w", err)
	}
	deps, err := parseDependencies(cwd, bytes.NewReader(in))
	if err != nil {
		return fmt.Errorf("can't read dependency information: %w", err)
	}
	// The first rule is the main file's.
	deps[0].file = goFile
	var out bytes.Buffer
	if err := adjustDependencies(&out, makeBase, deps); err != nil {
		return fmt.Errorf("can't adjust dependency information: %w", err)
	}
	if err := os.WriteFile(name, out.Bytes(), 0o666); err != nil {
		return fmt.Errorf("write make dependencies: %w", err)
	}
	return nil
}

type dependency struct {
	file          string
	prerequisites []string
}

func adjustDependencies(w io.Writer, baseDir string, deps []dependency) error {
	for _, dep := range deps {
		file, err := filepath.Rel(baseDir, dep.file)
		if err != nil {
			return err
		}
		if len(dep.prerequisites) == 0 {
			if _, err := fmt.Fprintf(w, "%s:\n\n", file); err != nil {
				return err
			}
			continue
		}
		var prereqs []string
		for _, prereq := range dep.prerequisites {
			rel, err := filepath.Rel(baseDir, prereq)
			if err != nil {
				return err
			}
			prereqs = append(prereqs, rel)
		}
		if _, err := fmt.Fprintf(w, "%s: \\\n %s\n\n", file, strings.Join(prereqs, " \\\n ")); err != nil {
			return err
		}
	}
	return nil
}

func parseDependencies(baseDir string, in io.Reader) ([]dependency, error) {
	abs := func(path string) string {
		if filepath.IsAbs(path) {
			return path
		}
		return filepath.Join(baseDir, path)
	}
	scanner := bufio.NewScanner(in)
	var line strings.Builder
	var deps []dependency
	for scanner.Scan() {
		buf := scanner.Bytes()
		if line.Len()+len(buf) > 1024*1024 {
			return nil, errors.New("line too long")
		}
		if bytes.HasSuffix(buf, []byte{'\\'}) {
			line.Write(buf[:len(buf)-1])
			continue
		}
		line.Write(buf)
		if line.Len() == 0 {
			continue
		}
		target, prereqs, ok := strings.Cut(line.String(), ":")
		if !ok {
			return nil, fmt.Errorf("invalid line without ':'")
		}
		// Like make, this does not handle file names with spaces.
		var abss []string
		for prereq := range strings.FieldsSeq(prereqs) {
			abss = append(abss, abs(prereq))
		}
		deps = append(deps, dependency{abs(target), abss})
		line.Reset()
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	if len(deps) == 0 {
		return nil, fmt.Errorf("empty dependency file")
	}
	return deps, nil
}
