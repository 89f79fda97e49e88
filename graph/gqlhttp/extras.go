package gqlhttp

import (
	"context"
	"encoding/json"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/switches"
)

// apqCache keeps automatically persisted queries in Redis, so a mobile client sends a query's
// text once to any instance and afterwards only its hash. With the apq switch off it forgets
// nothing but answers every lookup with a miss, and clients fall back to sending full queries.
//
// gqlgen's extension stores a text as soon as its hash matches, before it is parsed: any
// string, of any size, for 7 days, in the Redis that holds pending rewards. So Add only notes
// the text in the request's state, and persistedQueries stores it once the document has parsed,
// passed the document limits (MaxDocumentBytes among them) and validated.
type apqCache struct {
	rdb redis.UniversalClient
	sw  switches.Reader
	ttl time.Duration
}

func apqKey(hash string) string { return "w:apq:" + hash }

func (c apqCache) Get(ctx context.Context, hash string) (string, bool) {
	if !c.sw.Enabled(switches.APQ) {
		return "", false
	}
	q, err := c.rdb.Get(ctx, apqKey(hash)).Result()
	if err != nil {
		return "", false // a miss or Redis away: the client resends the query text
	}
	return q, true
}

// Add defers the store to commit.
func (c apqCache) Add(ctx context.Context, hash, query string) {
	if st := stateOf(ctx); st != nil {
		st.mu.Lock()
		st.apqHash, st.apqQuery = hash, query
		st.mu.Unlock()
	}
}

// commit stores the text Add noted for this request, when it is the document that validated.
func (c apqCache) commit(ctx context.Context, validated string) {
	st := stateOf(ctx)
	if st == nil || !c.sw.Enabled(switches.APQ) {
		return
	}
	st.mu.Lock()
	hash, query := st.apqHash, st.apqQuery
	st.mu.Unlock()
	if hash == "" || query != validated || len(query) > MaxDocumentBytes {
		return
	}
	c.rdb.Set(ctx, apqKey(hash), query, c.ttl) // best effort
}

// persistedQueries is gqlgen's automatic persisted queries with a coded error for a bad
// request (a hash that does not match its query, an unknown version: BAD_USER_INPUT rather
// than INTERNAL) and the text stored only after validation.
type persistedQueries struct {
	apq   extension.AutomaticPersistedQuery
	cache apqCache
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = persistedQueries{}

func newPersistedQueries(c apqCache) persistedQueries {
	return persistedQueries{apq: extension.AutomaticPersistedQuery{Cache: c}, cache: c}
}

func (persistedQueries) ExtensionName() string { return "AutomaticPersistedQuery" }

func (p persistedQueries) Validate(es graphql.ExecutableSchema) error { return p.apq.Validate(es) }

func (p persistedQueries) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	err := p.apq.MutateOperationParameters(ctx, raw)
	if err != nil {
		if _, coded := err.Extensions["code"]; !coded {
			errcode.Set(err, string(errs.BadUserInput))
		}
	}
	return err
}

// MutateOperationContext runs once the document parsed and validated (and its variables were
// accepted).
func (p persistedQueries) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	p.cache.commit(ctx, oc.RawQuery)
	return nil
}

// costReport adds extensions.cost to every response, as Shopify's API does: the cost the
// document was priced at before running, the cost of what it actually returned (every field
// in the response counts 1, so an unfilled page costs less than its first), and the caller's
// rate-limit budget.
func costReport(sw switches.Reader) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp == nil || !sw.Enabled(switches.CostReport) {
			return resp
		}
		cost := map[string]any{"requestedQueryCost": 0, "actualQueryCost": countFields(resp.Data)}
		// A request refused before it became an operation (a malformed body) has no operation
		// context, and gqlgen's accessors panic without one.
		if graphql.HasOperationContext(ctx) {
			if st := extension.GetComplexityStats(ctx); st != nil {
				cost["requestedQueryCost"] = st.Complexity
				cost["maximumQueryCost"] = st.ComplexityLimit
			}
		}
		if st := stateOf(ctx); st != nil {
			st.mu.Lock()
			d := st.decision
			st.mu.Unlock()
			if d != nil {
				cost["throttleStatus"] = map[string]any{
					"maximumAvailable":   d.Limit.Burst,
					"currentlyAvailable": max(d.Remaining, 0),
					"restoreRate":        float64(d.Limit.Rate) / d.Limit.Period.Seconds(),
				}
			}
		}
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["cost"] = cost
		return resp
	}
}

// countFields counts the fields present in a response's data: objects' keys, recursively.
func countFields(data json.RawMessage) int {
	if len(data) == 0 {
		return 0
	}
	var v any
	if json.Unmarshal(data, &v) != nil {
		return 0
	}
	var walk func(any) int
	walk = func(v any) int {
		n := 0
		switch x := v.(type) {
		case map[string]any:
			for _, c := range x {
				n += 1 + walk(c)
			}
		case []any:
			for _, c := range x {
				n += walk(c)
			}
		}
		return n
	}
	return walk(v)
}
