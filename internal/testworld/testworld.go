// Package testworld builds the world the money packages' tests run in: a real database
// (SQLite, or a fresh PostgreSQL database), a real Redis database, a settable clock, an
// activity tree with a parent and its phases, a token signer, switches tests can flip,
// a hot counter and circuit breakers. It builds no service; each package wires its own from
// these parts, as server.go does.
package testworld

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/breaker"
	"github.com/springwallet/wallet/services/counter"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/token"
)

// T0 is the world's starting time: the PRODUCTION child has just begun.
var T0 = time.Date(2027, 1, 28, 20, 0, 0, 0, time.UTC)

// The activity tree: a parent, its GRAY phase (before T0) and its PRODUCTION phase (from T0).
const (
	Parent = "cny"
	Gray   = "cny-gray"
	Child  = "cny-prod"
)

// Scenes defined on the parent: CashScene issues CASH (10,000 fen per transaction at most),
// CouponScene issues COUPON.
const (
	CashScene   = "rain"
	CouponScene = "gala"
)

// Clock is a settable time source shared by every part of the world.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Switches is a switchboard tests flip; safe for concurrent use.
type Switches struct {
	mu  sync.RWMutex
	off map[switches.Name]bool
}

// Enabled implements switches.Reader: declared switches are on unless turned off here.
func (s *Switches) Enabled(name switches.Name) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !s.off[name] && switches.AllOn().Enabled(name)
}

// Only turns exactly the given switches off (none: every switch on).
func (s *Switches) Only(off ...switches.Name) {
	m := map[switches.Name]bool{}
	for _, n := range off {
		m[n] = true
	}
	s.mu.Lock()
	s.off = m
	s.mu.Unlock()
}

// World is the parts.
type World struct {
	DB       *store.DB
	Redis    redis.UniversalClient
	Clock    *Clock
	Catalog  *activity.Catalog
	Signer   *token.Signer
	Log      *slog.Logger
	Switches *Switches
	Counter  *counter.Counter
	Breakers *breaker.Registry
}

// Options choose the world's backing services.
type Options struct {
	// RedisDB is the package's Redis database (testenv.DB...).
	RedisDB int
	// Postgres runs on a fresh PostgreSQL database instead of SQLite.
	Postgres bool
	// Cluster runs on a three-node Redis Cluster of the test's own instead of RedisDB.
	Cluster bool
}

// New builds a world for one test.
func New(t testing.TB, o Options) *World {
	t.Helper()
	ctx := context.Background()
	var db *store.DB
	if o.Postgres {
		db = testenv.Postgres(t)
	} else {
		db = testenv.SQLite(t)
	}
	var rdb redis.UniversalClient
	if o.Cluster {
		rdb = testenv.Cluster(t)
	} else {
		rdb = testenv.Redis(t, o.RedisDB)
	}
	clk := &Clock{t: T0}
	cat := activity.NewCatalog(db, clk.Now)
	for _, in := range []activity.ActivityInput{
		{ID: Parent, Name: "CNY", Phase: "PRODUCTION", StartsAt: T0.Add(-24 * time.Hour), EndsAt: T0.Add(24 * time.Hour)},
		{ID: Gray, ParentID: Parent, Phase: "GRAY", StartsAt: T0.Add(-24 * time.Hour), EndsAt: T0},
		{ID: Child, ParentID: Parent, Phase: "PRODUCTION", StartsAt: T0, EndsAt: T0.Add(24 * time.Hour)},
	} {
		if _, err := cat.UpsertActivity(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	for _, sc := range []activity.SceneInput{
		{ActivityID: Parent, SceneID: CashScene, AwardType: "CASH", PerTxnLimit: 10_000, BudgetTotal: 1_000_000_000, ReservePPM: -1},
		{ActivityID: Parent, SceneID: CouponScene, AwardType: "COUPON", BudgetTotal: 1_000_000, ReservePPM: -1},
	} {
		if _, err := cat.UpsertScene(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := token.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &World{DB: db, Redis: rdb, Clock: clk, Catalog: cat, Signer: signer, Log: log, Switches: &Switches{},
		Counter: counter.New(rdb, log, time.Second), Breakers: breaker.NewRegistry(prometheus.NewRegistry())}
}

// Live is the parent activity's phase live now.
func (w *World) Live(t testing.TB) *activity.Live {
	t.Helper()
	live, err := w.Catalog.Resolve(context.Background(), Parent, w.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return live
}

// CheckLedger asserts the ledger's invariants: every transaction sums to zero, and every
// user's balance row equals the sum of that user's legs and is not negative.
func (w *World) CheckLedger(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	legs, err := w.DB.R.LedgerEntry.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	perTxn := map[string]int64{}
	perUser := map[[2]any]int64{}
	for _, l := range legs {
		perTxn[l.TxnID] += l.Amount
		if l.ActID != 0 {
			perUser[[2]any{l.ActivityID, l.ActID}] += l.Amount
		}
	}
	for txn, sum := range perTxn {
		if sum != 0 {
			t.Errorf("transaction %s sums to %d, want 0", txn, sum)
		}
	}
	rows, err := w.DB.R.Balance.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range rows {
		if got := perUser[[2]any{b.ActivityID, b.ActID}]; got != b.Settled {
			t.Errorf("balance row %s/%d settled=%d, ledger says %d", b.ActivityID, b.ActID, b.Settled, got)
		}
		if b.Settled < 0 {
			t.Errorf("negative balance %s/%d: %d", b.ActivityID, b.ActID, b.Settled)
		}
	}
}

// LiveOf is activity id as a resolved activity whatever the time: for a test that reads a
// phase that is not live any more (or not yet).
func (w *World) LiveOf(t testing.TB, id string) *activity.Live {
	t.Helper()
	a, err := w.Catalog.Lookup(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return &activity.Live{Activity: *a, RequestedID: id}
}

// WantCode fails the test unless err carries the error code code.
func WantCode(t testing.TB, err error, code errs.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := errs.CodeOf(err); got != code {
		t.Fatalf("got %s (%v), want %s", got, err, code)
	}
}
