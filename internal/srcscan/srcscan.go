// Package srcscan finds code patterns in the module's own production source, for tests that
// keep architectural rules (one door to the ledger, no detached context without a deadline):
// every non-test Go file outside generated code and front-end folders.
package srcscan

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
)

// Hit is one node that matched, with its file relative to the root.
type Hit struct {
	Pos  string
	File string
}

// skipped folders: generated ORM code and front-end builds.
var skipped = map[string]bool{"ent": true, "web": true, "node_modules": true, ".git": true}

// Find parses every production Go file under root and returns the nodes match accepts.
func Find(root string, match func(ast.Node) bool) ([]Hit, error) {
	fset := token.NewFileSet()
	var out []Hit
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if skipped[rel] {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if n != nil && match(n) {
				out = append(out, Hit{Pos: fset.Position(n.Pos()).String(), File: rel})
			}
			return true
		})
		return nil
	})
	return out, err
}

// Selector reports whether n is X.Name where X itself ends in the selector recv (recv "" for
// any X): Selector(n, "LedgerEntry", "Create") matches tx.LedgerEntry.Create.
func Selector(n ast.Node, recv, name string) bool {
	sel, ok := n.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	if recv == "" {
		return true
	}
	switch x := sel.X.(type) {
	case *ast.SelectorExpr:
		return x.Sel.Name == recv
	case *ast.Ident:
		return x.Name == recv
	}
	return false
}
