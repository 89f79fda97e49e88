package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// driftDirs hold nothing but generator output (ent/schema, the ent input, is
// regenerated from itself and so compares equal). Every *.resolvers.go file is compared too:
// gqlgen rewrites them to follow the schemas.
var driftDirs = []string{"ent", "graph/generated", "graph/model", "admin/generated", "admin/model"}

func driftIsGenerated(rel string) bool {
	rel = filepath.ToSlash(rel)
	for _, d := range driftDirs {
		if strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return strings.HasSuffix(rel, ".resolvers.go")
}

// driftSkip reports whether rel (slash-separated, relative to the repository root) is left out
// of the scratch copy: VCS data, runtime state, npm installs and build output.
func driftSkip(rel string, d fs.DirEntry) bool {
	base := rel[strings.LastIndexByte(rel, '/')+1:]
	if d.IsDir() {
		switch {
		case base == ".git", base == "node_modules":
			return true
		case rel == "data", rel == "web/dist/graphiql":
			return true
		}
		return false
	}
	switch {
	case rel == "wallet": // go build -o wallet .
		return true
	case strings.HasPrefix(rel, "web/dist/") && rel != "web/dist/README.md":
		// The Vite bundle; only the placeholder is needed for //go:embed all:dist.
		return true
	case strings.HasSuffix(base, ".test"), strings.HasSuffix(base, ".out"):
		return true
	}
	return false
}

// TestGeneratedCodeIsCurrent regenerates the ent, gqlgen (wallet) and gqlgen (admin) code in
// a scratch copy of the repository, in the order of generate.go, and fails when the result
// differs from the code in the working tree.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping regeneration of ent and gqlgen code (about a minute)")
	}
	t.Parallel()

	src, err := os.Getwd() // the package directory: the repository root
	if err != nil {
		t.Fatal(err)
	}
	goBin, err := exec.LookPath("go") // go test puts its own GOROOT/bin first in PATH
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}

	dst := t.TempDir()
	if err := driftCopyTree(src, dst); err != nil {
		t.Fatalf("copying the repository to %s: %v", dst, err)
	}

	ctx := t.Context()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-10*time.Second))
		defer cancel()
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, goBin, "generate", "./...")
	cmd.Dir = dst
	// Same GOFLAGS, GOCACHE, GOMODCACHE and GOPROXY as this run, so the build cache is shared.
	// GOWORK=off: a go.work above the original checkout does not contain the copy.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go generate ./... in a copy of the repository failed (%v):\n%s", err, out)
	}
	t.Logf("go generate ./... took %s", time.Since(start).Round(100*time.Millisecond))

	for _, f := range []string{"go.mod", "go.sum"} {
		if !driftSameFile(filepath.Join(src, f), filepath.Join(dst, f)) {
			t.Logf("note: go generate changed %s (the directives use -mod=mod); the generated code is compared regardless", f)
		}
	}

	before, err := driftList(src)
	if err != nil {
		t.Fatal(err)
	}
	after, err := driftList(dst)
	if err != nil {
		t.Fatal(err)
	}

	var problems []string
	for _, rel := range driftUnion(before, after) {
		_, inTree := before[rel]
		_, inGen := after[rel]
		switch {
		case !inGen:
			problems = append(problems, fmt.Sprintf("  removed  %s (in the tree, deleted by go generate)", rel))
		case !inTree:
			problems = append(problems, fmt.Sprintf("  added    %s (created by go generate, missing from the tree)", rel))
		default:
			a, errA := os.ReadFile(filepath.Join(src, rel))
			b, errB := os.ReadFile(filepath.Join(dst, rel))
			if err := errors.Join(errA, errB); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				problems = append(problems, "  changed  "+rel+driftFirstDiff(a, b))
			}
		}
	}
	if len(problems) > 0 {
		t.Fatalf("generated code is out of date: %d file(s) differ from what go generate produces:\n%s\n"+
			"run go generate ./... and commit the result",
			len(problems), strings.Join(problems, "\n"))
	}
}

// driftCopyTree copies the repository at src into dst, keeping file modes and symlinks.
func driftCopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if driftSkip(filepath.ToSlash(rel), d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			return driftCopyFile(p, target, info.Mode().Perm())
		}
		return nil // sockets, pipes and devices are not source
	})
}

func driftCopyFile(from, to string, perm fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// driftList returns the generated files under root, slash-separated and relative to it.
func driftList(root string) (map[string]struct{}, error) {
	files := map[string]struct{}{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if driftSkip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && driftIsGenerated(rel) {
			files[rel] = struct{}{}
		}
		return nil
	})
	return files, err
}

func driftUnion(a, b map[string]struct{}) []string {
	var all []string
	for k := range a {
		all = append(all, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			all = append(all, k)
		}
	}
	slices.Sort(all)
	return all
}

func driftSameFile(a, b string) bool {
	x, errA := os.ReadFile(a)
	y, errB := os.ReadFile(b)
	return errA == nil && errB == nil && bytes.Equal(x, y)
}

// driftFirstDiff describes the first line where the tree (a) and the generator output (b)
// differ.
func driftFirstDiff(a, b []byte) string {
	la := strings.Split(string(a), "\n")
	lb := strings.Split(string(b), "\n")
	for i := 0; ; i++ {
		var x, y string
		okA, okB := i < len(la), i < len(lb)
		if okA {
			x = la[i]
		}
		if okB {
			y = lb[i]
		}
		if !okA && !okB {
			return "" // differ only in ways Split does not show; cannot happen for unequal input
		}
		if okA != okB || x != y {
			return fmt.Sprintf("\n             first difference at line %d:\n               tree:      %s\n               generated: %s",
				i+1, driftClip(x, okA), driftClip(y, okB))
		}
	}
}

func driftClip(s string, ok bool) string {
	if !ok {
		return "(end of file)"
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return fmt.Sprintf("%q", s)
}
