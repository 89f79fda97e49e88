// Package wallet is the money core: reward issuance into Redis, asynchronous settlement into
// the double-entry ledger, and balances that add the two up consistently.
package wallet

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/breaker"
	"github.com/springwallet/wallet/services/counter"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/token"
)

// Config holds the money core's tunables.
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
	// Withdraw bounds withdrawals.
	Withdraw WithdrawLimits
	// Payout paces the payout worker.
	Payout PayoutConfig
	// RedPacket bounds C2C red packets.
	RedPacket RedPacketConfig
}

// DefaultConfig is what the server runs with.
func DefaultConfig() Config {
	return Config{Shards: 4, BatchSize: 256, ClaimIdle: 15 * time.Second, OrderTTL: 30 * 24 * time.Hour, SweepAge: 30 * time.Second,
		Withdraw: DefaultWithdrawLimits(), Payout: DefaultPayoutConfig(), RedPacket: DefaultRedPacketConfig()}
}

// Service is the wallet's money core.
type Service struct {
	db      *store.DB
	rdb     redis.UniversalClient
	catalog *activity.Catalog
	signer  *token.Signer
	now     func() time.Time
	log     *slog.Logger
	cfg     Config
	// afterCommit, when set (by tests), runs between a settlement's database commit and its
	// Redis cleanup; an error stops the settlement there, as a crash would.
	afterCommit func() error
	switches    Switches
	limits      WithdrawLimits
	// kick wakes this instance's payout worker when a withdrawal is recorded.
	kick        chan struct{}
	feedTimeout time.Duration
	counter     *counter.Counter
	scenes      SceneLimiter
	breakers    *breaker.Registry
}

// SetBreakers puts the payout provider and the feed sources behind circuit breakers.
func (s *Service) SetBreakers(r *breaker.Registry) { s.breakers = r }

// SceneLimiter enforces a scene's issuance rate (ratePerSecond; 0 is unlimited), answering
// RATE_LIMITED when it is exceeded.
type SceneLimiter interface {
	AllowScene(ctx context.Context, activityID, sceneID string, perSecond int) error
}

// SetSceneLimiter makes issuance obey scene rates.
func (s *Service) SetSceneLimiter(l SceneLimiter) { s.scenes = l }

// New returns the Service.
func New(db *store.DB, rdb redis.UniversalClient, catalog *activity.Catalog, signer *token.Signer, now func() time.Time, log *slog.Logger, cfg Config) *Service {
	def := DefaultConfig()
	if cfg.Shards <= 0 {
		cfg.Shards = def.Shards
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = def.BatchSize
	}
	if cfg.ClaimIdle <= 0 {
		cfg.ClaimIdle = def.ClaimIdle
	}
	if cfg.OrderTTL <= 0 {
		cfg.OrderTTL = def.OrderTTL
	}
	if cfg.SweepAge <= 0 {
		cfg.SweepAge = def.SweepAge
	}
	if cfg.Withdraw.Day == nil {
		cfg.Withdraw = def.Withdraw
	}
	if cfg.Payout.Rate <= 0 {
		cfg.Payout = def.Payout
	}
	if cfg.RedPacket.MaxTotal <= 0 {
		cfg.RedPacket.MaxTotal = def.RedPacket.MaxTotal
	}
	if cfg.RedPacket.TTL <= 0 {
		cfg.RedPacket.TTL = def.RedPacket.TTL
	}
	return &Service{db: db, rdb: rdb, catalog: catalog, signer: signer, now: now, log: log, cfg: cfg, switches: allOn{},
		limits: cfg.Withdraw, kick: make(chan struct{}, 1), feedTimeout: FeedSourceTimeout}
}

// Catalog returns the activity catalog the service resolves activities with.
func (s *Service) Catalog() *activity.Catalog { return s.catalog }

// Switches tells whether a degradation switch is on. The switchboard implements it; the
// wallet only reads it.
type Switches interface {
	Enabled(name string) bool
}

// Switches the money core obeys (declared, with their descriptions, in services/switches).
const (
	SwitchIssuanceCash     = "issuance.cash"
	SwitchIssuanceCoupon   = "issuance.coupon"
	SwitchIssuanceAppFmt   = "issuance.app.%d"
	SwitchForceSettle      = "forcesettle"
	SwitchRedeem           = "redeem"
	SwitchHasRewardPending = "hasreward.pending"
	SwitchFeedPending      = "feed.pending"
	SwitchSettleWorker     = "settlement.worker"
	SwitchSweeper          = "settlement.sweeper"
	SwitchRedPacketExpiry  = "redpacket.expiry"
)

// SwitchNames lists every switch the money core checks, so a test can prove each is declared.
func SwitchNames() []string {
	names := []string{SwitchIssuanceCash, SwitchIssuanceCoupon, SwitchForceSettle, SwitchRedeem, SwitchHasRewardPending,
		SwitchFeedPending, SwitchSettleWorker, SwitchSweeper, SwitchRedPacketExpiry, SwitchWithdraw, SwitchPayout,
		SwitchRedPacketSend, SwitchRedPacketGrab}
	for app := 1; app <= 8; app++ {
		names = append(names, fmt.Sprintf(SwitchIssuanceAppFmt, app))
	}
	for _, sw := range feedSwitches {
		names = append(names, sw)
	}
	return names
}

// degraded is the answer of a switched-off feature.
func degraded(what string) error {
	return errs.E(errs.Degraded, "%s is switched off for now; please try again later", what)
}

type allOn struct{}

func (allOn) Enabled(string) bool { return true }

// SetSwitches makes the service obey sw (all switches are on until this is called).
func (s *Service) SetSwitches(sw Switches) { s.switches = sw }
