package feed

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// capture is a driver that records the SELECTs sent through it.
type capture struct {
	dialect.Driver
	mu      sync.Mutex
	queries []capturedQuery
}

type capturedQuery struct {
	sql  string
	args []any
}

// BeginTx passes transactions through, uncaptured (the feed opens none of its own: the lookup
// of pending rewards by their unique order numbers runs in the reward core, on its database).
func (c *capture) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	return c.Driver.(*entsql.Driver).BeginTx(ctx, opts)
}

func (c *capture) Query(ctx context.Context, query string, args, v any) error {
	if a, ok := args.([]any); ok && strings.HasPrefix(query, "SELECT") {
		c.mu.Lock()
		c.queries = append(c.queries, capturedQuery{query, a})
		c.mu.Unlock()
	}
	return c.Driver.Query(ctx, query, args, v)
}

// TestFeedQueriesAreIndexedKeysetReads asks SQLite how it runs each query a feed page sends,
// first page and deep page: every one must search an index (no table scan) and read it in
// order (no sort of a temporary B-tree), so a page costs the same at any depth and whatever
// the account's history.
func TestFeedQueriesAreIndexedKeysetReads(t *testing.T) {
	f := setup(t)
	buildMixedFeed(t, f, 60)
	f.issue(t, cash(33, 99_999, 5)) // a pending reward too
	deep := f.feed(t, 33, 40, "")
	rec := &capture{}
	f.s.db = f.db.WrapReads(func(d dialect.Driver) dialect.Driver { rec.Driver = d; return rec })
	for _, after := range []string{"", deep.Cursors[len(deep.Cursors)-1]} {
		if _, err := f.s.Page(context.Background(), f.live(t), 33, 10, after); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.queries) < 6 {
		t.Fatalf("captured %d queries, want the three sources' on both pages", len(rec.queries))
	}
	for _, q := range rec.queries {
		rows, err := rec.Driver.(*entsql.Driver).DB().QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q.sql, q.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		if !strings.Contains(joined, "USING INDEX") && !strings.Contains(joined, "USING COVERING INDEX") && !strings.Contains(joined, "PRIMARY KEY") {
			t.Errorf("query does not use an index: %s\nplan: %s", q.sql, joined)
		}
		if strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("query sorts instead of reading an index in order: %s\nplan: %s", q.sql, joined)
		}
		if strings.Contains(q.sql, "OFFSET") {
			t.Errorf("query pages by offset: %s", q.sql)
		}
	}
}
