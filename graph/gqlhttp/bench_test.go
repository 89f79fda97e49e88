package gqlhttp

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// BenchmarkPreflight is what the checks before validation cost a normal request, against
// what that request costs anyway:
//
//	go test -run x -bench Preflight -benchmem ./graph/gqlhttp
//
// hit is every request but a document's first (the parsed-query cache has it: the text is
// normalized to find it, the variables checked); miss is a document's first request (also
// parsed and walked for the limits); parse+validate is what gqlgen does on that miss, for
// scale. Results are in the README (Traffic control).
func BenchmarkPreflight(b *testing.B) {
	schema := walletSchema(b)
	docs := []struct {
		name, query string
		vars        string
	}{
		{"wallet", realDocuments[0], `{"a":"spring-festival"}`},
		{"issueReward", realDocuments[1], `{"in":{"actId":1,"appId":1,"activityId":"spring-festival","sceneId":"cash-rain","rainId":1,"awardType":"CASH","stage":0,"amount":88}}`},
		{"introspection", introspectionQuery(b), `{}`},
	}
	for _, d := range docs {
		vars, ok := decodeObject([]byte(d.vars))
		if !ok {
			b.Fatal("bad variables")
		}
		run := func(name string, cached bool) {
			b.Run(d.name+"/"+name, func(b *testing.B) {
				cache := newDocCache(QueryCacheBytes, nil, "bench")
				p := &preflight{schema: "bench", cache: cache, types: schema}
				ctx := context.WithValue(context.Background(), reqStateKey{}, &reqState{})
				if cached {
					cache.Add(ctx, d.query, parse(b, d.query))
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := p.MutateOperationParameters(ctx, &graphql.RawParams{Query: d.query, Variables: vars}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		run("hit", true)
		run("miss", false)
		b.Run(d.name+"/parse+validate", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: d.query}, ParserTokenLimit)
				if err != nil {
					b.Fatal(err)
				}
				if errs := validator.ValidateWithRules(schema, doc, validationRules(nil, "")()); len(errs) > 0 {
					b.Fatal(errs)
				}
			}
		})
	}
}
