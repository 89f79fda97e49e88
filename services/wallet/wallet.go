// Package wallet is the reward core: issuance into Redis (idempotency, budgets, caps), token
// redemption and re-issue, asynchronous settlement into the ledger, and balances that add the
// settled and the pending up consistently. Withdrawals, red packets and the feed build on it
// from their own packages through the small interfaces they declare.
package wallet

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/counter"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/token"
	"github.com/springwallet/wallet/services/wiring"
)

// Config holds the reward core's tunables.
type Config struct {
	// Shards is the number of settlement streams.
	Shards int
	// BatchSize is how many jobs one settlement transaction takes at most.
	BatchSize int
	// ClaimIdle is how long a job may sit unacknowledged with a consumer before another
	// worker takes it over (the first one is presumed dead).
	ClaimIdle time.Duration
	// OrderTTL is how long Redis remembers an order for idempotent replays; the database
	// remembers settled orders forever.
	OrderTTL time.Duration
	// SweepAge is how old a pending reward must be before the sweeper re-queues it.
	SweepAge time.Duration
	// SettleTimeout bounds one settlement once begun: it outlives the request that started
	// it, but not forever.
	SettleTimeout time.Duration
	// JournalInterval is how often an instance writes the orders it accepted to the
	// database's issuance journal (journal.go): at most this much of its issuance is known
	// to Redis alone.
	JournalInterval time.Duration
	// JournalBuffer is how many accepted orders may wait for the journal; past it issuance
	// answers DEGRADED until the database has taken them.
	JournalBuffer int
}

// DefaultConfig is what the server runs with.
func DefaultConfig() Config {
	return Config{Shards: 4, BatchSize: 256, ClaimIdle: 15 * time.Second, OrderTTL: 30 * 24 * time.Hour, SweepAge: 30 * time.Second,
		SettleTimeout: 30 * time.Second, JournalInterval: 100 * time.Millisecond, JournalBuffer: 200_000}
}

// withDefaults fills the zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	def := DefaultConfig()
	if c.Shards <= 0 {
		c.Shards = def.Shards
	}
	if c.BatchSize <= 0 {
		c.BatchSize = def.BatchSize
	}
	if c.ClaimIdle <= 0 {
		c.ClaimIdle = def.ClaimIdle
	}
	if c.OrderTTL <= 0 {
		c.OrderTTL = def.OrderTTL
	}
	if c.SweepAge <= 0 {
		c.SweepAge = def.SweepAge
	}
	if c.SettleTimeout <= 0 {
		c.SettleTimeout = def.SettleTimeout
	}
	if c.JournalInterval <= 0 {
		c.JournalInterval = def.JournalInterval
	}
	if c.JournalBuffer <= 0 {
		c.JournalBuffer = def.JournalBuffer
	}
	return c
}

// SceneLimiter enforces a scene's issuance rate (ratePerSecond; 0 is unlimited), answering
// RATE_LIMITED when it is exceeded.
type SceneLimiter interface {
	AllowScene(ctx context.Context, activityID, sceneID string, perSecond int) error
}

// NoSceneLimits is the SceneLimiter that never refuses (load tests, tools).
type NoSceneLimits struct{}

// AllowScene implements SceneLimiter.
func (NoSceneLimits) AllowScene(context.Context, string, string, int) error { return nil }

// Deps is everything the reward core needs; every field is required.
type Deps struct {
	DB       *store.DB
	Redis    redis.UniversalClient
	Catalog  *activity.Catalog
	Signer   *token.Signer
	Switches switches.Reader
	// Counter counts issuance per activity (the hot counter behind activityStats).
	Counter *counter.Counter
	// Scenes enforces scene issuance rates (NoSceneLimits for none).
	Scenes SceneLimiter
	Now    func() time.Time
	Log    *slog.Logger
	Config Config
}

// Service is the reward core.
type Service struct {
	db       *store.DB
	rdb      redis.UniversalClient
	catalog  *activity.Catalog
	signer   *token.Signer
	switches switches.Reader
	counter  *counter.Counter
	scenes   SceneLimiter
	now      func() time.Time
	log      *slog.Logger
	cfg      Config
	// afterCommit, when set (by tests), runs between a settlement's database commit and its
	// Redis cleanup; an error stops the settlement there, as a crash would.
	afterCommit func() error
	// beforeJournal, when set (by tests), runs before each journal write: a slow database.
	beforeJournal func()
	journal       journal
	// recoverMu serializes this instance's recoveries from Redis data loss (epoch.go).
	recoverMu sync.Mutex
	// instance names this process among those sharing Redis (journal beacons, epoch.go).
	instance string
}

// New returns the reward core, or an error naming the first missing dependency.
func New(d Deps) (*Service, error) {
	if err := wiring.Require("wallet.New", d); err != nil {
		return nil, err
	}
	s := &Service{db: d.DB, rdb: d.Redis, catalog: d.Catalog, signer: d.Signer, switches: d.Switches, counter: d.Counter,
		scenes: d.Scenes, now: d.Now, log: d.Log, cfg: d.Config.withDefaults()}
	s.journal.earliest = map[string]earliestEntry{}
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	s.instance = fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b)
	return s, nil
}

// Degraded is the answer of a switched-off feature.
func Degraded(what string) error {
	return errs.E(errs.Degraded, "%s is switched off for now; please try again later", what)
}
