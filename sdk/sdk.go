// Package sdk is the in-process Go SDK for activity backends: the questions they ask millions
// of times a second (an account's wallet, whether it holds a reward, settle it now) answered
// straight from Redis and the database with the service's own code, without a GraphQL hop.
// Its answers equal the API's for the same account at the same moment, and it honours the same
// degradation switches, following their changes as every instance does.
//
//	c, err := sdk.Open(ctx, sdk.Config{DatabaseURL: os.Getenv("DATABASE_URL"), RedisURL: os.Getenv("REDIS_URL")})
//	...
//	defer c.Close()
//	w, err := c.Wallet(ctx, actID, "spring-festival")
//
// A Client is safe for concurrent use; open one per process (it pools its connections).
package sdk

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ratelimit"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/counter"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/lifecycle"
	"github.com/springwallet/wallet/services/redisconn"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/token"
	"github.com/springwallet/wallet/services/wallet"
)

// Config names the deployment's database and Redis, exactly as the server's DATABASE_URL and
// REDIS_URL do.
type Config struct {
	DatabaseURL string
	RedisURL    string
	// TokenKey is the deployment's WALLET_TOKEN_KEY; only Issue needs it (cash rewards carry a
	// token signed with it).
	TokenKey string
	// Log receives the SDK's own warnings (nil: discarded).
	Log *slog.Logger
}

// Wallet is one account's wallet within one activity: Balance == Settled + Pending.
type Wallet struct {
	Balance, Settled, Pending, CumulativeIncome int64
}

// SettleResult is what ForceSettle wrote: how many rewards and how much cash.
type SettleResult struct {
	Count  int
	Amount int64
}

// IssueInput is one reward, as issueReward takes it.
type IssueInput = wallet.IssueInput

// IssueResult is what Issue answers, as issueReward does.
type IssueResult struct {
	OrderNo  string
	Token    string
	Status   string
	Replayed bool
}

// Client answers for one deployment.
type Client struct {
	db       *store.DB
	rdb      redis.UniversalClient
	catalog  *activity.Catalog
	core     *wallet.Service
	canIssue bool
	workers  *lifecycle.Group
	close    sync.Once
}

// Open connects to the deployment and loads its switches; the Client follows switch changes
// (and pushes its issuance counts) in the background until Close.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.DatabaseURL == "" || cfg.RedisURL == "" {
		return nil, errs.Input("config", "the SDK needs the deployment's DatabaseURL and RedisURL")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rdb, err := redisconn.Open(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	c := &Client{db: db, rdb: rdb, workers: lifecycle.NewGroup(log)}
	if err := c.wire(ctx, cfg, log); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// wire builds the reward core the way the server does (server.go's wire), minus everything
// the SDK does not answer for.
func (c *Client) wire(ctx context.Context, cfg Config, log *slog.Logger) error {
	now := time.Now
	c.catalog = activity.NewCatalog(c.db, now)
	board := switches.New(c.db, c.rdb, log, now)
	if err := board.Load(ctx); err != nil {
		return err
	}
	signer, err := signerFor(cfg.TokenKey)
	if err != nil {
		return err
	}
	c.canIssue = cfg.TokenKey != ""
	hot := counter.New(c.rdb, log, time.Second)
	c.core, err = wallet.New(wallet.Deps{DB: c.db, Redis: c.rdb, Catalog: c.catalog, Signer: signer, Switches: board,
		Counter: hot, Scenes: ratelimit.DefaultPolicy(ratelimit.New(c.rdb, log)), Now: now, Log: log, Config: wallet.DefaultConfig()})
	if err != nil {
		return err
	}
	// The journal worker records what Issue accepts in the database, as every instance does,
	// so a Redis that loses data cannot lose those rewards.
	c.workers.Start(context.Background(), map[string]lifecycle.Worker{"switches": board, "counter": hot, "journal": c.core.Journal()})
	return nil
}

// signerFor is the deployment's token signer, or, without a key, a throwaway one that is never
// used (Issue refuses to run without the key).
func signerFor(key string) (*token.Signer, error) {
	if key != "" {
		return token.LoadSigner(key, "") // decodes the key as the server does; no file with a key
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	return token.NewSigner(seed)
}

// Close stops the background work and closes the connections.
func (c *Client) Close() error {
	var err error
	c.close.Do(func() {
		err = c.workers.Stop(10 * time.Second)
		if c.db != nil {
			err = errors.Join(err, c.db.Close())
		}
		err = errors.Join(err, c.rdb.Close())
	})
	return err
}

// live resolves activityID (a parent's id means its live phase) as the API does.
func (c *Client) live(ctx context.Context, actID int64, activityID string) (*activity.Live, error) {
	if actID <= 0 {
		return nil, errs.Input("actId", "actId must be positive")
	}
	if err := activity.ValidateID("activityId", activityID); err != nil {
		return nil, err
	}
	return c.catalog.Resolve(ctx, activityID, time.Now())
}

// Wallet answers the wallet query for actID.
func (c *Client) Wallet(ctx context.Context, actID int64, activityID string) (Wallet, error) {
	live, err := c.live(ctx, actID, activityID)
	if err != nil {
		return Wallet{}, err
	}
	b, err := c.core.Wallet(ctx, live, actID)
	if err != nil {
		return Wallet{}, err
	}
	return Wallet{Balance: b.Balance, Settled: b.Settled, Pending: b.Pending, CumulativeIncome: b.CumulativeIncome}, nil
}

// CumulativeIncome is everything actID ever earned in the activity (never goes down).
func (c *Client) CumulativeIncome(ctx context.Context, actID int64, activityID string) (int64, error) {
	w, err := c.Wallet(ctx, actID, activityID)
	return w.CumulativeIncome, err
}

// HasReward answers the hasReward query for actID.
func (c *Client) HasReward(ctx context.Context, actID int64, activityID, sceneID string) (bool, error) {
	live, err := c.live(ctx, actID, activityID)
	if err != nil {
		return false, err
	}
	if _, err := c.catalog.Scene(ctx, &live.Activity, sceneID); err != nil {
		return false, err
	}
	return c.core.HasReward(ctx, live, actID, sceneID)
}

// MaxBatch is the most accounts one HasRewards call takes.
const MaxBatch = 1000

// HasRewards answers HasReward for many accounts at once (in the order given).
func (c *Client) HasRewards(ctx context.Context, actIDs []int64, activityID, sceneID string) ([]bool, error) {
	if len(actIDs) > MaxBatch {
		return nil, errs.Input("actIds", "at most %d accounts at a time", MaxBatch)
	}
	out := make([]bool, len(actIDs))
	for i, id := range actIDs {
		ok, err := c.HasReward(ctx, id, activityID, sceneID)
		if err != nil {
			return nil, fmt.Errorf("account %d: %w", id, err)
		}
		out[i] = ok
	}
	return out, nil
}

// ForceSettle settles actID's pending rewards now, as the forceSettle mutation does (the
// forcesettle switch applies).
func (c *Client) ForceSettle(ctx context.Context, actID int64, activityID string) (SettleResult, error) {
	live, err := c.live(ctx, actID, activityID)
	if err != nil {
		return SettleResult{}, err
	}
	r, err := c.core.SettleOnDemand(ctx, live, actID)
	return SettleResult{Count: r.Count, Amount: r.Amount}, err
}

// Issue grants a reward with issueReward's semantics: idempotent by order number, budgets,
// caps, scene rates and switches. It needs Config.TokenKey.
func (c *Client) Issue(ctx context.Context, in IssueInput) (*IssueResult, error) {
	if !c.canIssue {
		return nil, errs.Input("config", "Issue needs the deployment's TokenKey in the SDK's Config")
	}
	r, err := c.core.Issue(ctx, in)
	if err != nil {
		return nil, err
	}
	return &IssueResult{OrderNo: r.OrderNo, Token: r.Token, Status: r.Status, Replayed: r.Replayed}, nil
}

// Code is the contract's error code of err ("" for nil), through any wrapping.
func Code(err error) string {
	if err == nil {
		return ""
	}
	return string(errs.CodeOf(err))
}
