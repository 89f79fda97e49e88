package gqlhttp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

func TestDecodeBody(t *testing.T) {
	cases := []struct {
		body, want string // want: a part of the message, "" for a body that decodes
	}{
		{`{"query":"{ __typename }"}`, ""},
		{` {"query":"{ __typename }","operationName":null,"variables":null,"extensions":null} `, ""},
		{`{"query":"query($n: Int) { __typename }","variables":{"n":1.0},"extensions":{}}`, ""},
		{`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ab"}}}`, ""},
		{`[]`, "must be a JSON object with a query, not an array"},
		{`"{ __typename }"`, "not a string"},
		{`5`, "not a number"},
		{``, "empty"},
		{`not json`, "not something that is not JSON"},
		{`{"query":5}`, "query must be a string, not a number"},
		{`{"query":{"a":1}}`, "query must be a string, not an object"},
		{`{"query":"{a}","operationName":true}`, "operationName must be a string, not a boolean"},
		{`{"query":"{a}","variables":[1]}`, "variables must be a JSON object, not an array"},
		{`{"query":"{a}","variables":"x"}`, "variables must be a JSON object, not a string"},
		{`{"query":"{a}","extensions":5}`, "extensions must be a JSON object, not a number"},
		{`{"query":"{a}"`, "not valid JSON"},
		{`{"query":"{a}"} {"query":"{b}"}`, "more after its JSON object"},
		{`{"query":"{a}",}`, "not valid JSON (at byte 16)"},
	}
	for _, tc := range cases {
		p, msg := decodeBody([]byte(tc.body))
		switch {
		case tc.want == "" && msg != "":
			t.Errorf("%s: %s", tc.body, msg)
		case tc.want != "" && !strings.Contains(msg, tc.want):
			t.Errorf("%s: message %q, want it to contain %q", tc.body, msg, tc.want)
		case tc.want == "" && p == nil:
			t.Errorf("%s: no params", tc.body)
		}
	}
	p, _ := decodeBody([]byte(`{"query":"q","variables":{"n":100.0,"m":9223372036854775807}}`))
	if n, ok := p.Variables["n"].(json.Number); !ok || n != "100.0" || p.Variables["m"].(json.Number) != "9223372036854775807" {
		t.Errorf("variables = %#v, want numbers kept as written", p.Variables)
	}
}

// FuzzQueryBody feeds arbitrary POST bodies through what the server does before gqlgen
// parses: decoding, then the preflight (normalizing, parsing, the limits, the Int
// variables). Nothing may panic; a refusal never repeats the body; an accepted body keeps
// its query exactly. The seed corpus runs with every `go test`; fuzz it with
//
//	go test -run x -fuzz FuzzQueryBody -fuzztime 10s ./graph/gqlhttp
func FuzzQueryBody(f *testing.F) {
	seeds := []string{
		`{"query":"{ __typename }"}`,
		`{"query":"query($a: ID!) { wallet(activityId: $a) { balance } }","variables":{"a":"spring-festival"}}`,
		`{"query":"mutation($in: IssueRewardInput!) { issueReward(input: $in) { orderNo } }","variables":{"in":{"rainId":2147483648,"amount":1e2}}}`,
		`{"query":"{ ...A } fragment A on Query { ...A }"}`,
		`{"query":"# c\n{ a: __typename, b: __typename }","operationName":"x","extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`,
		`[]`, `{"query":5}`, `{"query":"{a}","variables":[1]}`, `not json`, `{"query":"\u0000"}`, `{"query":"\"\"\"x"}`,
		`{"query":"{ f(a: [1, {b: 2.5e3}], s: \"\"\"block\"\"\") @d(x: $v) { ... on T { g } } }","variables":{"v":{"x":[1,2]}}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	schema := walletSchema(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, msg := decodeBody(body)
		if msg != "" {
			if p != nil {
				t.Fatal("params with an error")
			}
			if len(msg) > 120 || (len(body) > 8 && strings.Contains(msg, string(body))) {
				t.Fatalf("message %q repeats or outgrows the body", msg)
			}
			return
		}
		var fields map[string]json.RawMessage
		var query string
		if json.Unmarshal(body, &fields) != nil || (fields["query"] != nil && json.Unmarshal(fields["query"], &query) != nil) {
			t.Fatalf("%q accepted, but encoding/json does not decode it", body)
		}
		if query != p.Query {
			t.Fatalf("query %q decoded as %q", query, p.Query)
		}
		key, _, ok := normalize(p.Query, ParserTokenLimit)
		doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, ParserTokenLimit)
		if err != nil {
			return
		}
		if !ok {
			t.Fatalf("%q parses but does not normalize", p.Query)
		}
		if again, _, _ := normalize(p.Query, ParserTokenLimit); again != key {
			t.Fatal("normalize is not deterministic")
		}
		_ = checkLimits(doc)
		_ = checkIntVariables(schema, doc.Operations.ForName(p.OperationName), p.Variables)
	})
}
