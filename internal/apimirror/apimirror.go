// Package apimirror lists the exported API of a Go package as comparable
// lines, for the tests that check that xebpf's ringbuf and perf packages
// mirror cilium/ebpf's.
package apimirror

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Exported parses the Go files of dir (tests and files named *_windows.go
// excluded) and returns one sorted line per exported declaration: funcs
// and methods with their parameter and result types (names dropped),
// types with their exported fields or underlying type, vars and consts by
// name. Types print as written, so a package imported under the same name
// prints the same.
func Exported(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("apimirror: %w", err)
	}
	fset := token.NewFileSet()
	var lines []string
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || strings.HasSuffix(name, "_windows.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("apimirror: %w", err)
		}
		for _, d := range f.Decls {
			lines = append(lines, decl(fset, d)...)
		}
	}
	sort.Strings(lines)
	return lines, nil
}

func decl(fset *token.FileSet, d ast.Decl) []string {
	var out []string
	switch d := d.(type) {
	case *ast.FuncDecl:
		if !d.Name.IsExported() {
			return nil
		}
		recv := ""
		if d.Recv != nil {
			r := d.Recv.List[0].Type
			base := r
			if s, ok := base.(*ast.StarExpr); ok {
				base = s.X
			}
			if id, ok := base.(*ast.Ident); !ok || !id.IsExported() {
				return nil
			}
			recv = "(" + expr(fset, r) + ") "
		}
		out = append(out, "func "+recv+d.Name.Name+fields(fset, d.Type.Params, ", ")+" "+fields(fset, d.Type.Results, ", "))
	case *ast.GenDecl:
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				if s.Name.IsExported() {
					out = append(out, "type "+s.Name.Name+" "+typeBody(fset, s.Type))
				}
			case *ast.ValueSpec:
				for _, n := range s.Names {
					if n.IsExported() {
						out = append(out, d.Tok.String()+" "+n.Name)
					}
				}
			}
		}
	}
	return out
}

// typeBody prints a struct's exported fields in order, else the type.
func typeBody(fset *token.FileSet, t ast.Expr) string {
	st, ok := t.(*ast.StructType)
	if !ok {
		return expr(fset, t)
	}
	var fs []string
	for _, f := range st.Fields.List {
		for _, n := range f.Names {
			if n.IsExported() {
				fs = append(fs, n.Name+" "+expr(fset, f.Type))
			}
		}
	}
	return "struct{" + strings.Join(fs, "; ") + "}"
}

// fields prints the types of a parameter or result list, one per name.
func fields(fset *token.FileSet, fl *ast.FieldList, sep string) string {
	if fl == nil {
		return "()"
	}
	var ts []string
	for _, f := range fl.List {
		n := max(len(f.Names), 1)
		for range n {
			ts = append(ts, expr(fset, f.Type))
		}
	}
	return "(" + strings.Join(ts, sep) + ")"
}

func expr(fset *token.FileSet, e ast.Expr) string {
	var b bytes.Buffer
	if err := printer.Fprint(&b, fset, e); err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return b.String()
}
