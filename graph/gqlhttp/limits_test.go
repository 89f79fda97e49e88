package gqlhttp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// walletSchema loads the real wallet schema from its files (importing package graph would
// tie these tests to every service).
func walletSchema(t testing.TB) *ast.Schema {
	t.Helper()
	files, err := filepath.Glob("../schema/*.graphql")
	if err != nil {
		t.Fatal(err)
	}
	var srcs []*ast.Source
	for _, f := range append([]string{"../../schema.graphql"}, files...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, &ast.Source{Name: f, Input: string(b)})
	}
	s, err := gqlparser.LoadSchema(srcs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func parse(t testing.TB, q string) *ast.QueryDocument {
	t.Helper()
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: q}, 1_000_000)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

// tree is a selection of width copies of ofType, nested depth deep: duplicates whose
// pairwise comparison multiplies at every level.
func tree(depth, width int) string {
	if depth == 0 {
		return "name"
	}
	return strings.Repeat("ofType { "+tree(depth-1, width)+" } ", width)
}

func introspectionQuery(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/introspection.graphql")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Documents the clients send; none may trip a limit.
var realDocuments = []string{
	`query($a: ID!) { wallet(activityId: $a) { balance settled pending cumulativeIncome activity { id phase } } }`,
	`mutation($in: IssueRewardInput!) { issueReward(input: $in) { orderNo token status replayed } }`,
	`query($a: ID!, $first: Int!, $after: String) { walletFeed(activityId: $a, first: $first, after: $after) {
	  edges { cursor node { id kind status amount occurredAt } } pageInfo { hasNextPage endCursor } degradedSources } }`,
	`{ __typename }`,
	// Fragments that overlap on a few fields, as component-based clients write them.
	`query { wallet(activityId: "a") { ...A ...B ...C } } fragment A on Wallet { balance settled }
	 fragment B on Wallet { balance pending } fragment C on Wallet { balance activity { id } }`,
}

func TestLimitsAdmitRealDocuments(t *testing.T) {
	docs := append([]string{introspectionQuery(t)}, realDocuments...)
	schema := walletSchema(t)
	for _, q := range docs {
		doc := parse(t, q)
		if err := checkLimits(doc); err != nil {
			t.Errorf("refused (%s): %s\n%.200s", err.limit, err.msg, q)
		}
		if errs := validator.Validate(schema, doc); len(errs) > 0 {
			t.Errorf("the fixture does not validate: %v\n%.200s", errs, q)
		}
	}
}

// TestLimitsRefuseAttacks is each attack of issue 9 item 5 and its relatives: every document
// here costs validation from hundreds of milliseconds to tens of seconds, and each is refused
// by the limit named, without validating.
func TestLimitsRefuseAttacks(t *testing.T) {
	bomb := "{ ...F0 } "
	for i := 0; i < 30; i++ {
		bomb += "fragment F" + itoa(int64(i)) + " on Query { ...F" + itoa(int64(i+1)) + " ...F" + itoa(int64(i+1)) + " } "
	}
	bomb += "fragment F30 on Query { __typename }"
	cases := []struct {
		name, query, limit string
	}{
		{"15,000 duplicate fields", "{ " + strings.Repeat("__typename ", 15_000) + "}", "width"},
		{"101 aliased reads", "{ " + repeatf(101, func(i int) string { return "a" + itoa(int64(i)) + ": __typename " }) + "}", "width"},
		{"duplicates through fragments", "{ ...A ...B } fragment A on Query { " + strings.Repeat("__typename ", 60) + "} fragment B on Query { " + strings.Repeat("__typename ", 60) + "}", "width"},
		{"duplicates three wide, seven deep", `{ __type(name: "Wallet") { ` + tree(7, 3) + " } }", "duplicates"},
		{"100 wallets of 19 duplicates", "{ " + strings.Repeat("wallet(activityId: \"a\") { "+strings.Repeat("balance ", 19)+"} ", 100) + "}", "duplicates"},
		{"deep", `{ __type(name: "Wallet") { ` + strings.Repeat("ofType { ", 15) + "name" + strings.Repeat(" }", 15) + " } }", "depth"},
		{"four introspections", "{ a: __schema { queryType { name } } b: __schema { queryType { name } } c: __type(name: \"Wallet\") { name } d: __type(name: \"Query\") { name } }", "introspection"},
		{"fragment bomb (2^30 copies)", bomb, "width"},
		{"many operations", repeatf(1300, func(i int) string {
			return "query Q" + itoa(int64(i)) + " { a: __typename b: __typename c: __typename d: __typename } "
		}), "selections"},
		{"fragment cycle", "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }", "cycle"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := parse(t, tc.query)
			start := time.Now()
			err := checkLimits(doc)
			took := time.Since(start)
			if err == nil || err.limit != tc.limit {
				t.Fatalf("checkLimits = %+v, want the %s limit", err, tc.limit)
			}
			if took > 100*time.Millisecond {
				t.Errorf("checkLimits took %s", took)
			}
			t.Logf("%d bytes refused in %s: %s", len(tc.query), took, err.msg)
		})
	}
}

// TestValidationWithinTheLimitsIsCheap validates, against the wallet schema, the most
// expensive documents the limits admit, found by pushing each shape to its limit: the
// limits are what make validation bounded, so this is their proof. The bound is generous
// (race detector, shared CI cores); the logged times are the measurement.
func TestValidationWithinTheLimitsIsCheap(t *testing.T) {
	schema := walletSchema(t)
	cases := []struct{ name, query string }{
		{"100 duplicate fields", "{ " + strings.Repeat("__typename ", 100) + "}"},
		{"100 wallets with one duplicate field", "{ " + strings.Repeat(`wallet(activityId: "a") { balance } `, 100) + "}"},
		{"duplicates two wide, five deep", `{ __type(name: "Wallet") { ` + tree(5, 2) + " } }"},
		{"fragments spread in pairs", "{ " + repeatf(50, func(i int) string { return "...F" + itoa(int64(i)) + " " }) + "} " +
			repeatf(50, func(i int) string {
				return "fragment F" + itoa(int64(i)) + " on Query { x" + itoa(int64(i)) + ": __typename }"
			})},
		{"5,000 distinct fields", repeatf(50, func(i int) string {
			return "query Q" + itoa(int64(i)) + " { " + repeatf(99, func(j int) string { return "a" + itoa(int64(j)) + ": __typename " }) + "} "
		})},
		{"2,000 directives", "{ __typename " + strings.Repeat("@include(if: true) ", 2000) + "}"},
		{"one field, 2,000 arguments", `{ wallet(` + strings.Repeat(`activityId: "a" `, 2000) + `) { balance } }`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := parse(t, tc.query)
			if err := checkLimits(doc); err != nil {
				t.Fatalf("refused (%s): %s: the case must sit within the limits", err.limit, err.msg)
			}
			start := time.Now()
			validator.Validate(schema, doc)
			took := time.Since(start)
			t.Logf("%d bytes validate in %s", len(tc.query), took)
			if took > 250*time.Millisecond {
				t.Errorf("validation took %s", took)
			}
		})
	}
}

func TestDocumentLimitCountsBytes(t *testing.T) {
	p := &preflight{cache: newDocCache(QueryCacheBytes, nil, "test")}
	q := "{ __typename }" + strings.Repeat(" ", MaxDocumentBytes)
	err := p.MutateOperationParameters(t.Context(), &graphql.RawParams{Query: q})
	if err == nil || err.Extensions["code"] != codeComplexity {
		t.Fatalf("a %d-byte document: %v", len(q), err)
	}
}

func repeatf(n int, f func(int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(f(i))
	}
	return b.String()
}
