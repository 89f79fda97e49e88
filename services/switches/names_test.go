package switches

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryNameIsDeclared finds every constant of type Name in this package's source and
// every app switch, and checks each has a Def: a switch checked in code but never declared
// would read as off on every instance.
func TestEveryNameIsDeclared(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []Name
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Name" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok {
						t.Fatalf("%s: a Name constant that is not a literal", fset.Position(v.Pos()))
					}
					names = append(names, Name(strings.Trim(lit.Value, `"`)))
				}
			}
		}
	}
	if len(names) < 20 {
		t.Fatalf("found %d Name constants; the parser missed some", len(names))
	}
	for app := 1; app <= Apps; app++ {
		names = append(names, IssuanceApp(app))
	}
	b := New(nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	for _, n := range names {
		if _, ok := defsByName[n]; !ok {
			t.Errorf("switch %q is a Name constant but has no Def", n)
		}
		if !b.Enabled(n) {
			t.Errorf("declared switch %q reads off at its default", n)
		}
	}
	if len(names) != len(Defs) {
		t.Errorf("%d names, %d defs: every Def must have its constant", len(names), len(Defs))
	}
}

// TestUndeclaredNameReadsOff proves a name converted from a string that was never declared
// is off (and logged), never a silent on.
func TestUndeclaredNameReadsOff(t *testing.T) {
	var logged strings.Builder
	b := New(nil, nil, slog.New(slog.NewTextHandler(&logged, nil)), nil)
	if b.Enabled(Name("withdraws")) {
		t.Fatal("an undeclared switch reads on")
	}
	if !strings.Contains(logged.String(), "undeclared switch") {
		t.Fatalf("nothing logged: %q", logged.String())
	}
	if AllOn().Enabled(Name("withdraws")) || Off(Withdraw).Enabled(Withdraw) || !Off(Withdraw).Enabled(Redeem) {
		t.Fatal("Fixed switchboards do not follow their declarations")
	}
}
