// Package feed is the wallet page's one list: rewards (pending from Redis, settled from the
// database), withdrawals and red-packet ledger entries merged newest first, with a keyset
// cursor valid across the sources, each source under its own timeout, breaker and switch.
package feed

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/ledgerentry"
	"github.com/springwallet/wallet/ent/predicate"
	"github.com/springwallet/wallet/ent/rewardorder"
	"github.com/springwallet/wallet/ent/withdrawal"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/breaker"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/wallet"
	"github.com/springwallet/wallet/services/wiring"
)

// Sources, as the contract names them.
const (
	SourceSettlement = "SETTLEMENT"
	SourceWithdrawal = "WITHDRAWAL"
	SourceRedPacket  = ledger.FeedRedPacket
)

// The switches that take a source out of the feed.
var sourceSwitches = map[string]switches.Name{
	SourceSettlement: switches.FeedSettlement,
	SourceWithdrawal: switches.FeedWithdrawal,
	SourceRedPacket:  switches.FeedRedPacket,
}

// Rewards reads the pending rewards of an account and tells which of them are settled
// already (the reward core implements it).
type Rewards interface {
	Pending(ctx context.Context, live *activity.Live, actID int64) ([]wallet.Order, error)
	SettledAmong(ctx context.Context, live *activity.Live, pending []wallet.Order) (map[string]bool, error)
}

// Deps is everything the feed needs; every field is required.
type Deps struct {
	DB       *store.DB
	Rewards  Rewards
	Switches switches.Reader
	Breakers *breaker.Registry
	Log      *slog.Logger
	// SourceTimeout bounds each source's query (0: DefaultSourceTimeout).
	SourceTimeout time.Duration
}

// Service serves feed pages.
type Service struct {
	db       *store.DB
	rewards  Rewards
	switches switches.Reader
	breakers *breaker.Registry
	log      *slog.Logger
	timeout  time.Duration
}

// New returns the feed, or an error naming the first missing dependency.
func New(d Deps) (*Service, error) {
	if err := wiring.Require("feed.New", d); err != nil {
		return nil, err
	}
	if d.SourceTimeout <= 0 {
		d.SourceTimeout = DefaultSourceTimeout
	}
	return &Service{db: d.DB, rewards: d.Rewards, switches: d.Switches, breakers: d.Breakers, log: d.Log, timeout: d.SourceTimeout}, nil
}

// Feed item kinds and statuses.
const (
	ItemReward     = "REWARD"
	ItemWithdrawal = "WITHDRAWAL"
)

// Item is one line of the wallet page.
type Item struct {
	ID         string
	Kind       string
	Status     string
	Amount     int64 // signed: credit > 0, debit < 0
	OccurredAt time.Time
}

// Page is one page of the merged feed, newest first.
type Page struct {
	Items   []Item
	Cursors []string
	HasNext bool
	// Degraded lists the sources left out of this page.
	Degraded []string
}

// Item ids carry a source prefix; the prefixes sort p < r < w, which the keyset conditions
// below rely on when a cursor from one source is applied to another.
const (
	prefixRedPacket  = "p:"
	prefixReward     = "r:"
	prefixWithdrawal = "w:"
)

// feedKey orders items: newest first, then by id (descending) among equal times.
type feedKey struct {
	at int64 // Unix microseconds
	id string
}

func (k feedKey) before(o feedKey) bool { // k comes after o in the feed (is older)
	return k.at < o.at || (k.at == o.at && k.id < o.id)
}

func (k feedKey) encode() string {
	b, _ := json.Marshal(map[string]any{"t": k.at, "i": k.id})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*feedKey, error) {
	if s == "" {
		return nil, nil
	}
	bad := errs.Input("after", "the cursor is not one this feed produced")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var c struct {
		T *int64  `json:"t"`
		I *string `json:"i"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.T == nil || c.I == nil || len(*c.I) < 3 {
		return nil, bad
	}
	switch (*c.I)[:2] {
	case prefixRedPacket, prefixReward, prefixWithdrawal:
	default:
		return nil, bad
	}
	return &feedKey{at: *c.T, id: *c.I}, nil
}

// keyset builds the "older than the cursor" condition for a source whose item ids are
// prefix+key, over its time column and key column.
func keyset(c *feedKey, prefix, timeCol, keyCol string, keyOf func(string) (any, bool)) func(*sql.Selector) {
	return func(s *sql.Selector) {
		at := time.UnixMicro(c.at).UTC()
		cp := c.id[:2]
		switch {
		case cp < prefix: // every item of ours at that instant sorts above the cursor
			s.Where(sql.LT(s.C(timeCol), at))
		case cp > prefix: // every item of ours at that instant sorts below it
			s.Where(sql.LTE(s.C(timeCol), at))
		default:
			key, ok := keyOf(c.id[2:])
			if !ok {
				s.Where(sql.LT(s.C(timeCol), at))
				return
			}
			// The outer bound on the time column alone lets the index seek straight to the
			// cursor instead of filtering every newer row.
			s.Where(sql.And(sql.LTE(s.C(timeCol), at), sql.Or(sql.LT(s.C(timeCol), at), sql.LT(s.C(keyCol), key))))
		}
	}
}

func stringKey(s string) (any, bool) { return s, true }

// DefaultSourceTimeout bounds each source's query; a slower source is left out of the page.
const DefaultSourceTimeout = 800 * time.Millisecond

// Feed returns one page of the account's feed: rewards (pending and settled), withdrawals and
// red packets, newest first. Each source is one indexed query of at most first+1 rows, run
// concurrently under its own timeout; a source switched off, failing or slow is listed in
// Degraded and the others are served.
func (s *Service) Page(ctx context.Context, live *activity.Live, actID int64, first int, after string) (*Page, error) {
	if first < 1 || first > 100 {
		return nil, errs.Input("first", "first must be 1..100")
	}
	cur, err := decodeCursor(after)
	if err != nil {
		return nil, err
	}
	type result struct {
		items []Item
		err   error
	}
	sources := []struct {
		name  string
		fetch func(context.Context) ([]Item, error)
	}{
		{SourceSettlement, func(ctx context.Context) ([]Item, error) {
			return s.rewardItems(ctx, live, actID, first, cur)
		}},
		{SourceWithdrawal, func(ctx context.Context) ([]Item, error) {
			return s.withdrawalItems(ctx, live.ID, actID, first, cur)
		}},
		{SourceRedPacket, func(ctx context.Context) ([]Item, error) {
			return s.redPacketItems(ctx, live.ID, actID, first, cur)
		}},
	}
	results := make([]result, len(sources))
	var wg sync.WaitGroup
	for i, src := range sources {
		if !s.switches.Enabled(sourceSwitches[src.name]) {
			results[i].err = errSwitchedOff
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, s.timeout)
			defer cancel()
			var items []Item
			// A source that keeps failing is skipped at once while its breaker is open,
			// instead of costing every page its timeout.
			err := s.breakers.Do(string(sourceSwitches[src.name]), breaker.DefaultSettings(), func() error {
				var err error
				items, err = src.fetch(sctx)
				if err == nil && sctx.Err() != nil {
					err = sctx.Err()
				}
				return err
			})
			results[i] = result{items, err}
		}()
	}
	wg.Wait()
	page := &Page{Degraded: []string{}}
	var all []Item
	for i, r := range results {
		if r.err != nil {
			if r.err != errSwitchedOff {
				s.log.Warn("feed source degraded", "source", sources[i].name, "err", r.err)
			}
			page.Degraded = append(page.Degraded, sources[i].name)
			continue
		}
		all = append(all, r.items...)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	sort.Slice(all, func(i, j int) bool { return itemKey(all[j]).before(itemKey(all[i])) })
	if len(all) > first {
		all, page.HasNext = all[:first], true
	}
	page.Items = all
	page.Cursors = make([]string, len(all))
	for i, it := range all {
		page.Cursors[i] = itemKey(it).encode()
	}
	return page, nil
}

var errSwitchedOff = fmt.Errorf("switched off")

func itemKey(it Item) feedKey { return feedKey{at: it.OccurredAt.UnixMicro(), id: it.ID} }

// rewardItems merges the pending rewards from Redis with the settled ones from the database;
// a reward keeps its id and time when it settles, so it keeps its place.
func (s *Service) rewardItems(ctx context.Context, live *activity.Live, actID int64, first int, cur *feedKey) ([]Item, error) {
	var pending []wallet.Order
	if s.switches.Enabled(switches.FeedPending) {
		var err error
		if pending, err = s.rewards.Pending(ctx, live, actID); err != nil {
			return nil, err
		}
	}
	q := s.db.R.RewardOrder.Query().Where(rewardorder.ActivityID(live.ID), rewardorder.ActID(actID), rewardorder.AwardType(wallet.AwardCash))
	if cur != nil {
		q = q.Where(predicate.RewardOrder(keyset(cur, prefixReward, rewardorder.FieldIssuedAt, rewardorder.FieldOrderNo, stringKey)))
	}
	rows, err := q.Order(ent.Desc(rewardorder.FieldIssuedAt), ent.Desc(rewardorder.FieldOrderNo)).Limit(first + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("feed rewards: %w", err)
	}
	seen := make(map[string]bool, len(rows))
	items := make([]Item, 0, len(rows)+len(pending))
	for _, r := range rows {
		seen[r.OrderNo] = true
		items = append(items, Item{ID: prefixReward + r.OrderNo, Kind: ItemReward, Status: wallet.StatusSettled, Amount: r.Amount, OccurredAt: r.IssuedAt.UTC()})
	}
	var candidates []wallet.Order
	for _, o := range pending {
		if !o.IsCash() || seen[o.OrderNo] {
			continue
		}
		if cur != nil && !itemKey(rewardItem(o)).before(*cur) {
			continue
		}
		candidates = append(candidates, o)
	}
	if len(candidates) > 0 {
		// A pending entry may already be settled (cleanup lags the commit): show it once.
		done, err := s.rewards.SettledAmong(ctx, live, candidates)
		if err != nil {
			return nil, err
		}
		for _, o := range candidates {
			it := rewardItem(o)
			if done[o.OrderNo] {
				it.Status = wallet.StatusSettled
			}
			items = append(items, it)
		}
	}
	return items, nil
}

func rewardItem(o wallet.Order) Item {
	return Item{ID: prefixReward + o.OrderNo, Kind: ItemReward, Status: wallet.StatusPending, Amount: o.Amount,
		OccurredAt: time.UnixMilli(o.IssuedAtMs).UTC()}
}

func (s *Service) withdrawalItems(ctx context.Context, activityID string, actID int64, first int, cur *feedKey) ([]Item, error) {
	q := s.db.R.Withdrawal.Query().Where(withdrawal.ActivityID(activityID), withdrawal.ActID(actID))
	if cur != nil {
		q = q.Where(predicate.Withdrawal(keyset(cur, prefixWithdrawal, withdrawal.FieldCreatedAt, withdrawal.FieldID, stringKey)))
	}
	rows, err := q.Order(ent.Desc(withdrawal.FieldCreatedAt), ent.Desc(withdrawal.FieldID)).Limit(first + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("feed withdrawals: %w", err)
	}
	items := make([]Item, len(rows))
	for i, w := range rows {
		items[i] = Item{ID: prefixWithdrawal + w.ID, Kind: ItemWithdrawal, Status: string(w.Status), Amount: -w.Amount, OccurredAt: w.CreatedAt.UTC()}
	}
	return items, nil
}

// Ledger ids are integers; in item ids they are zero-padded so string order is numeric order.
func ledgerItemID(id int) string { return fmt.Sprintf("%s%019d", prefixRedPacket, id) }

func ledgerKey(s string) (any, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func (s *Service) redPacketItems(ctx context.Context, activityID string, actID int64, first int, cur *feedKey) ([]Item, error) {
	q := s.db.R.LedgerEntry.Query().Where(ledgerentry.ActivityID(activityID), ledgerentry.Account(ledger.UserAccount(actID)), ledgerentry.Feed(ledger.FeedRedPacket))
	if cur != nil {
		q = q.Where(predicate.LedgerEntry(keyset(cur, prefixRedPacket, ledgerentry.FieldCreatedAt, ledgerentry.FieldID, ledgerKey)))
	}
	rows, err := q.Order(ent.Desc(ledgerentry.FieldCreatedAt), ent.Desc(ledgerentry.FieldID)).Limit(first + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("feed red packets: %w", err)
	}
	items := make([]Item, len(rows))
	for i, l := range rows {
		items[i] = Item{ID: ledgerItemID(l.ID), Kind: l.Kind, Status: wallet.StatusSettled, Amount: l.Amount, OccurredAt: l.CreatedAt.UTC()}
	}
	return items, nil
}
