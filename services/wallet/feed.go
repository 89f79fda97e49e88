package wallet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
	"github.com/springwallet/wallet/services/breaker"
	"github.com/springwallet/wallet/services/errs"
)

// Feed sources, as the contract names them.
const (
	FeedSettlement = "SETTLEMENT"
	FeedWithdrawal = "WITHDRAWAL"
	FeedRedPacket  = "RED_PACKET"
)

// The switches that take a source out of the feed.
var feedSwitches = map[string]string{
	FeedSettlement: "feed.settlement",
	FeedWithdrawal: "feed.withdrawal",
	FeedRedPacket:  "feed.redpacket",
}

// Feed item kinds and statuses.
const (
	ItemReward     = "REWARD"
	ItemWithdrawal = "WITHDRAWAL"
)

// FeedItem is one line of the wallet page.
type FeedItem struct {
	ID         string
	Kind       string
	Status     string
	Amount     int64 // signed: credit > 0, debit < 0
	OccurredAt time.Time
}

// FeedPage is one page of the merged feed, newest first.
type FeedPage struct {
	Items   []FeedItem
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

// FeedSourceTimeout bounds each source's query; a slower source is left out of the page.
const FeedSourceTimeout = 800 * time.Millisecond

// Feed returns one page of the account's feed: rewards (pending and settled), withdrawals and
// red packets, newest first. Each source is one indexed query of at most first+1 rows, run
// concurrently under its own timeout; a source switched off, failing or slow is listed in
// Degraded and the others are served.
func (s *Service) Feed(ctx context.Context, activityID string, actID int64, first int, after string) (*FeedPage, error) {
	if first < 1 || first > 100 {
		return nil, errs.Input("first", "first must be 1..100")
	}
	cur, err := decodeCursor(after)
	if err != nil {
		return nil, err
	}
	type result struct {
		items []FeedItem
		err   error
	}
	sources := []struct {
		name  string
		fetch func(context.Context) ([]FeedItem, error)
	}{
		{FeedSettlement, func(ctx context.Context) ([]FeedItem, error) {
			return s.feedRewards(ctx, activityID, actID, first, cur)
		}},
		{FeedWithdrawal, func(ctx context.Context) ([]FeedItem, error) {
			return s.feedWithdrawals(ctx, activityID, actID, first, cur)
		}},
		{FeedRedPacket, func(ctx context.Context) ([]FeedItem, error) {
			return s.feedRedPackets(ctx, activityID, actID, first, cur)
		}},
	}
	results := make([]result, len(sources))
	var wg sync.WaitGroup
	for i, src := range sources {
		if !s.switches.Enabled(feedSwitches[src.name]) {
			results[i].err = errSwitchedOff
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, s.feedTimeout)
			defer cancel()
			var items []FeedItem
			// A source that keeps failing is skipped at once while its breaker is open,
			// instead of costing every page its timeout.
			err := s.breakers.Do(feedSwitches[src.name], breaker.DefaultSettings(), func() error {
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
	page := &FeedPage{Degraded: []string{}}
	var all []FeedItem
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

func itemKey(it FeedItem) feedKey { return feedKey{at: it.OccurredAt.UnixMicro(), id: it.ID} }

// feedRewards merges the pending rewards from Redis with the settled ones from the database;
// a reward keeps its id and time when it settles, so it keeps its place.
func (s *Service) feedRewards(ctx context.Context, activityID string, actID int64, first int, cur *feedKey) ([]FeedItem, error) {
	var pending []Order
	if s.switches.Enabled(SwitchFeedPending) {
		var err error
		if pending, err = s.pendingOrders(ctx, activityID, actID); err != nil {
			return nil, err
		}
	}
	q := s.db.R.RewardOrder.Query().Where(rewardorder.ActivityID(activityID), rewardorder.ActID(actID), rewardorder.AwardType(AwardCash))
	if cur != nil {
		q = q.Where(predicate.RewardOrder(keyset(cur, prefixReward, rewardorder.FieldIssuedAt, rewardorder.FieldOrderNo, stringKey)))
	}
	rows, err := q.Order(ent.Desc(rewardorder.FieldIssuedAt), ent.Desc(rewardorder.FieldOrderNo)).Limit(first + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("feed rewards: %w", err)
	}
	seen := make(map[string]bool, len(rows))
	items := make([]FeedItem, 0, len(rows)+len(pending))
	for _, r := range rows {
		seen[r.OrderNo] = true
		items = append(items, FeedItem{ID: prefixReward + r.OrderNo, Kind: ItemReward, Status: StatusSettled, Amount: r.Amount, OccurredAt: r.IssuedAt.UTC()})
	}
	var candidates []Order
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
		var done map[string]bool
		err := s.db.ReadTx(ctx, func(tx *ent.Tx) error {
			var err error
			done, err = settledAmong(ctx, tx, activityID, candidates)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, o := range candidates {
			it := rewardItem(o)
			if done[o.OrderNo] {
				it.Status = StatusSettled
			}
			items = append(items, it)
		}
	}
	return items, nil
}

func rewardItem(o Order) FeedItem {
	return FeedItem{ID: prefixReward + o.OrderNo, Kind: ItemReward, Status: StatusPending, Amount: o.Amount,
		OccurredAt: time.UnixMilli(o.IssuedAtMs).UTC()}
}

func (s *Service) feedWithdrawals(ctx context.Context, activityID string, actID int64, first int, cur *feedKey) ([]FeedItem, error) {
	q := s.db.R.Withdrawal.Query().Where(withdrawal.ActivityID(activityID), withdrawal.ActID(actID))
	if cur != nil {
		q = q.Where(predicate.Withdrawal(keyset(cur, prefixWithdrawal, withdrawal.FieldCreatedAt, withdrawal.FieldID, stringKey)))
	}
	rows, err := q.Order(ent.Desc(withdrawal.FieldCreatedAt), ent.Desc(withdrawal.FieldID)).Limit(first + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("feed withdrawals: %w", err)
	}
	items := make([]FeedItem, len(rows))
	for i, w := range rows {
		items[i] = FeedItem{ID: prefixWithdrawal + w.ID, Kind: ItemWithdrawal, Status: string(w.Status), Amount: -w.Amount, OccurredAt: w.CreatedAt.UTC()}
	}
	return items, nil
}

// Ledger ids are integers; in item ids they are zero-padded so string order is numeric order.
func ledgerItemID(id int) string { return fmt.Sprintf("%s%019d", prefixRedPacket, id) }

func ledgerKey(s string) (any, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func (s *Service) feedRedPackets(ctx context.Context, activityID string, actID int64, first int, cur *feedKey) ([]FeedItem, error) {
	q := s.db.R.LedgerEntry.Query().Where(ledgerentry.ActivityID(activityID), ledgerentry.Account(userAccount(actID)), ledgerentry.Feed(FeedRedPacket))
	if cur != nil {
		q = q.Where(predicate.LedgerEntry(keyset(cur, prefixRedPacket, ledgerentry.FieldCreatedAt, ledgerentry.FieldID, ledgerKey)))
	}
	rows, err := q.Order(ent.Desc(ledgerentry.FieldCreatedAt), ent.Desc(ledgerentry.FieldID)).Limit(first + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("feed red packets: %w", err)
	}
	items := make([]FeedItem, len(rows))
	for i, l := range rows {
		items[i] = FeedItem{ID: ledgerItemID(l.ID), Kind: l.Kind, Status: StatusSettled, Amount: l.Amount, OccurredAt: l.CreatedAt.UTC()}
	}
	return items, nil
}
