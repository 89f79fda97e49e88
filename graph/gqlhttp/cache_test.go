package gqlhttp

import (
	"runtime"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

func key(t *testing.T, q string) string {
	t.Helper()
	k, _, ok := normalize(q, ParserTokenLimit)
	if !ok {
		t.Fatalf("normalize(%q) failed", q)
	}
	return k
}

func TestNormalizeIgnoresWhatParsingIgnores(t *testing.T) {
	base := `query Q($a: ID!) { wallet(activityId: $a) { balance } }`
	same := []string{
		"query Q($a:ID!){wallet(activityId:$a){balance}}",
		"# a comment\nquery Q($a: ID!) {\n  wallet(activityId: $a) { # another\n    balance\n  }\n}\n",
		"\ufeffquery Q($a: ID!), { wallet(activityId: $a), { balance, } }" + "\n#" + strings.Repeat("x", 10_000),
	}
	for _, q := range same {
		if key(t, q) != key(t, base) {
			t.Errorf("%.60q and the base have different keys", q)
		}
	}
	// Pairs that look alike but are different documents.
	different := [][2]string{
		{`{ a b }`, `{ ab }`},
		{`{ f(s: "a b") }`, `{ f(s: "a" t: "b") }`},
		{`{ f(s: "x") }`, `{ f(s: """x""") }`},
		{`{ f(n: 1.0) }`, `{ f(n: 1) }`},
		{`{ f(s: "a\"b") }`, `{ f(s: "a") }`},
		{`{ a: b }`, `{ b: a }`},
	}
	for _, p := range different {
		if key(t, p[0]) == key(t, p[1]) {
			t.Errorf("%q and %q share the key %q", p[0], p[1], key(t, p[0]))
		}
	}
	if _, _, ok := normalize(`{ "unterminated }`, ParserTokenLimit); ok {
		t.Error("a text that does not lex normalized")
	}
	if _, _, ok := normalize("{"+strings.Repeat(" a", 100)+"}", 50); ok {
		t.Error("a text over the token limit normalized")
	}
}

// TestCacheIsBoundedInBytes fills the cache with documents padded with comments: variants of
// one document share an entry, distinct documents are evicted to stay under the bound.
func TestCacheIsBoundedInBytes(t *testing.T) {
	const max = 1 << 20
	c := newDocCache(max, nil, "test")
	ctx := t.Context()
	pad := "#" + strings.Repeat("x", 20_000) + "\n"
	add := func(q string) {
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		if err != nil {
			t.Fatal(err)
		}
		c.Add(ctx, q, doc)
	}
	for i := range 100 {
		add(pad + "# variant " + itoa(int64(i)) + "\n{ __typename }")
	}
	if n := len(c.items); n != 1 {
		t.Fatalf("100 comment variants of one document: %d entries, want 1", n)
	}
	if _, ok := c.Get(ctx, "{__typename}"); !ok {
		t.Fatal("the bare document misses the entry of its padded variants")
	}
	for i := range 500 {
		add(pad + "{ a" + itoa(int64(i)) + ": __typename }")
		if c.size() > max {
			t.Fatalf("after %d documents the cache holds %d bytes, over its %d", i+1, c.size(), max)
		}
	}
	if n := len(c.items); n >= 500 || n < 10 {
		t.Fatalf("%d entries after 500 distinct documents of ~20 KB in 1 MiB", n)
	}
	// Least recently used goes first: the newest is still there.
	if _, ok := c.Get(ctx, "{ a499: __typename }"); !ok {
		t.Fatal("the newest entry was evicted")
	}
	// One entry larger than a sixteenth of the cache is not kept at all.
	add("{ __typename }" + strings.Repeat(" ", max/16))
	if _, ok := c.Get(ctx, "{ __typename }"+strings.Repeat(" ", max/16)); ok && c.size() > max {
		t.Fatal("a huge entry pushed the cache over its bound")
	}
}

// TestCacheChargesWhatParsingAllocates checks entrySize against what gqlparser allocates to
// parse a document: the bound in bytes is only as good as this estimate.
func TestCacheChargesWhatParsingAllocates(t *testing.T) {
	docs := append([]string{introspectionQuery(t)}, realDocuments...)
	docs = append(docs, "{ "+repeatf(99, func(i int) string { return "a" + itoa(int64(i)) + `: wallet(activityId: "x") { balance } ` })+"}")
	for _, q := range docs {
		k, tokens, ok := normalize(q, ParserTokenLimit)
		if !ok {
			t.Fatal("normalize failed")
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		runtime.KeepAlive(doc)
		allocated := int64(after.TotalAlloc - before.TotalAlloc)
		charged := entrySize(q, k, tokens)
		t.Logf("%5d bytes, %4d tokens: parsing allocated %7d, charged %7d", len(q), tokens, allocated, charged)
		if charged < allocated+int64(len(q)) {
			t.Errorf("%.40q: charged %d, less than its text and the %d bytes its syntax tree took", q, charged, allocated)
		}
	}
}
