package wallet

import (
	"context"
	"fmt"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/issuedreward"
	"github.com/springwallet/wallet/ent/rewardorder"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/lifecycle"
	"github.com/springwallet/wallet/services/store"
)

// The issuance journal. Issuance answers from Redis alone; the database learns of a reward
// when it is settled. Between the two, only Redis knew it, so a Redis that lost its data lost
// the pending rewards with it: gone from balances, from the budget counters rebuilt from the
// database, and from idempotency. Each instance therefore appends every order it accepts to
// an in-memory buffer (a mutex and a slice: no round trip), and its journal worker writes the
// buffer to the database (IssuedReward) every JournalInterval in one insert. What Redis lost,
// the journal still has, because it never came from Redis: it came from the process that
// accepted the order. The only rewards known to neither are those a process accepted in the
// last JournalInterval before it died, if Redis lost its data at the same time.

// journalChunk is how many rows one insert writes (13 columns: under SQLite's and PostgreSQL's
// parameter limits).
const journalChunk = 500

// journal is this instance's buffer of accepted orders not yet written to the database.
type journal struct {
	mu   sync.Mutex
	buf  []Order
	busy sync.Mutex // one flush at a time (the worker, a recovery)
	// gate is held (shared) by each issuance from its first Redis decision until its order is
	// in buf; a recovery takes it whole to know none is left in between (epoch.go).
	gate sync.RWMutex
	// earliest is each activity's earliest journaled issuance (Unix ms), refreshed by the
	// flushes; see earliestIssued.
	emu      sync.Mutex
	earliest map[string]earliestEntry
}

type earliestEntry struct {
	ms      int64
	fetched time.Time
}

// journalFull reports whether the buffer is at its bound: the database has not taken the
// journal for a while, and issuance slows down (DEGRADED) rather than accept rewards only
// Redis would know about.
func (s *Service) journalFull() bool {
	s.journal.mu.Lock()
	defer s.journal.mu.Unlock()
	return len(s.journal.buf) >= s.cfg.JournalBuffer
}

// journalAdd buffers an accepted order for the journal.
func (s *Service) journalAdd(o Order) {
	s.journal.mu.Lock()
	s.journal.buf = append(s.journal.buf, o)
	s.journal.mu.Unlock()
}

// flushJournal writes the buffered orders to the database; what it could not write goes back
// to the front of the buffer for the next flush.
func (s *Service) flushJournal(ctx context.Context) error {
	j := &s.journal
	j.busy.Lock()
	defer j.busy.Unlock()
	j.mu.Lock()
	batch := j.buf
	j.buf = nil
	j.mu.Unlock()
	for len(batch) > 0 {
		n := min(len(batch), journalChunk)
		if err := s.writeJournal(ctx, batch[:n]); err != nil {
			j.mu.Lock()
			j.buf = append(batch, j.buf...)
			j.mu.Unlock()
			return fmt.Errorf("write issuance journal: %w", err)
		}
		s.noteEarliest(ctx, batch[:n])
		batch = batch[n:]
	}
	return nil
}

// FlushJournal writes what this instance accepted and has not journaled yet, now: for a
// reconciliation run that must see it.
func (s *Service) FlushJournal(ctx context.Context) error { return s.flushJournal(ctx) }

// writeJournal inserts orders (those already journaled are left alone) and marks the ones
// already settled: settlement may have beaten the journal to the database.
func (s *Service) writeJournal(ctx context.Context, orders []Order) error {
	if s.beforeJournal != nil {
		s.beforeJournal()
	}
	now := store.Time(time.Now())
	return s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		rows := make([]*ent.IssuedRewardCreate, len(orders))
		for i, o := range orders {
			rows[i] = tx.IssuedReward.Create().SetActivityID(o.ActivityID).SetOrderNo(o.OrderNo).SetActID(o.ActID).SetAppID(o.AppID).
				SetSceneID(o.SceneID).SetRainID(o.RainID).SetAwardType(o.AwardType).SetStage(o.Stage).SetAmount(o.Amount).
				SetToken(o.Token).SetIssuedAt(store.Time(o.IssuedAt())).SetRecordedAt(now)
		}
		err := tx.IssuedReward.CreateBulk(rows...).
			OnConflictColumns(issuedreward.FieldActivityID, issuedreward.FieldOrderNo).DoNothing().Exec(ctx)
		if err != nil && !ledger.IsNoRows(err) {
			return err
		}
		return markJournalSettled(ctx, tx, orders, false)
	})
}

// markJournalSettled sets settled on the journal rows of those orders that are in
// reward_orders (all of them when known is true: the caller just wrote them there).
func markJournalSettled(ctx context.Context, tx *ent.Tx, orders []Order, known bool) error {
	byActivity := map[string][]Order{}
	for _, o := range orders {
		byActivity[o.ActivityID] = append(byActivity[o.ActivityID], o)
	}
	for act, group := range byActivity {
		var nos []string
		if known {
			for _, o := range group {
				nos = append(nos, o.OrderNo)
			}
		} else {
			done, err := settledAmong(ctx, tx.Client(), act, group)
			if err != nil {
				return err
			}
			for no := range done {
				nos = append(nos, no)
			}
		}
		if len(nos) == 0 {
			continue
		}
		if err := tx.IssuedReward.Update().Where(issuedreward.ActivityID(act), issuedreward.OrderNoIn(nos...), issuedreward.Settled(false)).
			SetSettled(true).Exec(ctx); err != nil {
			return fmt.Errorf("mark journal settled: %w", err)
		}
	}
	return nil
}

// notSettled keeps journal rows whose order is not in reward_orders: the settled flag alone
// may lag (a journal row written just after its settlement, on PostgreSQL).
func notSettled(sel *entsql.Selector) {
	t := entsql.Table(rewardorder.Table)
	sel.Where(entsql.NotExists(entsql.Select(t.C(rewardorder.FieldID)).From(t).Where(entsql.And(
		entsql.ColumnsEQ(t.C(rewardorder.FieldActivityID), sel.C(issuedreward.FieldActivityID)),
		entsql.ColumnsEQ(t.C(rewardorder.FieldOrderNo), sel.C(issuedreward.FieldOrderNo)),
	))))
}

// journalOrder is a journal row as an Order.
func journalOrder(r *ent.IssuedReward) Order {
	return Order{OrderNo: r.OrderNo, ActivityID: r.ActivityID, ActID: r.ActID, AppID: r.AppID, SceneID: r.SceneID, RainID: r.RainID,
		AwardType: r.AwardType, Stage: r.Stage, Amount: r.Amount, IssuedAtMs: r.IssuedAt.UnixMilli(), Token: r.Token}
}

// journaledPending are the account's journaled rewards not marked settled (pending in Redis,
// or lost from it), read through c (a snapshot's client, or the read client). A row's flag may
// lag its settlement: callers that must not count a settled order check reward_orders (the
// balance read does so for every pending order anyway, in the same snapshot).
func journaledPending(ctx context.Context, c *ent.Client, activityID string, actID int64) ([]Order, error) {
	rows, err := c.IssuedReward.Query().Where(issuedreward.ActivityID(activityID), issuedreward.ActID(actID), issuedreward.Settled(false)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read journaled rewards: %w", err)
	}
	out := make([]Order, len(rows))
	for i, r := range rows {
		out[i] = journalOrder(r)
	}
	return out, nil
}

// knownOrder is what the database knows of an order number: settled, or journaled and not
// settled yet. Nil when it knows nothing.
type knownOrder struct {
	Order
	Settled bool
}

// lookupKnown asks the database about one order: reward_orders first (settled), then the
// journal.
func (s *Service) lookupKnown(ctx context.Context, activityID, orderNo string) (*knownOrder, error) {
	ro, err := s.db.R.RewardOrder.Query().Where(rewardorder.ActivityID(activityID), rewardorder.OrderNo(orderNo)).Only(ctx)
	switch {
	case err == nil:
		return &knownOrder{Settled: true, Order: Order{OrderNo: ro.OrderNo, ActivityID: ro.ActivityID, ActID: ro.ActID, AppID: ro.AppID,
			SceneID: ro.SceneID, RainID: ro.RainID, AwardType: ro.AwardType, Stage: ro.Stage, Amount: ro.Amount,
			IssuedAtMs: ro.IssuedAt.UnixMilli(), Token: ro.Token}}, nil
	case !ent.IsNotFound(err):
		return nil, fmt.Errorf("find settled order: %w", err)
	}
	jr, err := s.db.R.IssuedReward.Query().Where(issuedreward.ActivityID(activityID), issuedreward.OrderNo(orderNo)).Only(ctx)
	switch {
	case err == nil:
		// Marked settled, yet not in reward_orders a moment ago: it was settled in between.
		return &knownOrder{Settled: jr.Settled, Order: journalOrder(jr)}, nil
	case ent.IsNotFound(err):
		return nil, nil
	}
	return nil, fmt.Errorf("find journaled order: %w", err)
}

// orderTTLMargin keeps the TTL test of earliestIssued on the safe side of clock skew between
// the instances and Redis, which counts the records' lifetime.
const orderTTLMargin = time.Hour

// earliestRefresh is how often a flush re-reads an activity's earliest journaled issuance.
const earliestRefresh = time.Minute

// earliestIssued is the earliest time (Unix ms) an order of activity a may have been issued:
// its start, or an earlier journaled issuance (its start was moved later after orders were
// issued). Read from memory: the journal's flushes keep it current.
func (s *Service) earliestIssued(a *activity.Activity) int64 {
	e := a.StartsAt.UnixMilli()
	s.journal.emu.Lock()
	if x, ok := s.journal.earliest[a.ID]; ok && x.ms < e {
		e = x.ms
	}
	s.journal.emu.Unlock()
	return e
}

// noteEarliest updates the activities' earliest journaled issuance after a flush wrote orders.
func (s *Service) noteEarliest(ctx context.Context, orders []Order) {
	batchMin := map[string]int64{}
	for _, o := range orders {
		if m, ok := batchMin[o.ActivityID]; !ok || o.IssuedAtMs < m {
			batchMin[o.ActivityID] = o.IssuedAtMs
		}
	}
	j := &s.journal
	for act, m := range batchMin {
		j.emu.Lock()
		x, ok := j.earliest[act]
		j.emu.Unlock()
		if ok && time.Since(x.fetched) < earliestRefresh {
			if m < x.ms {
				j.emu.Lock()
				j.earliest[act] = earliestEntry{ms: m, fetched: x.fetched}
				j.emu.Unlock()
			}
			continue
		}
		first, err := s.db.R.IssuedReward.Query().Where(issuedreward.ActivityID(act)).Order(ent.Asc(issuedreward.FieldIssuedAt)).
			Select(issuedreward.FieldIssuedAt).First(ctx)
		if err != nil {
			s.log.Warn("read earliest issuance", "activity", act, "err", err)
			continue
		}
		j.emu.Lock()
		j.earliest[act] = earliestEntry{ms: min(m, first.IssuedAt.UnixMilli()), fetched: time.Now()}
		j.emu.Unlock()
	}
}

// JournalWriter writes this instance's issuance journal to the database every
// JournalInterval, and once more when it stops. Beside it, its beacon tells recoveries from
// Redis data loss that the instance is live, and when its journal has caught up (epoch.go).
type JournalWriter struct{ s *Service }

// Journal returns the journal worker; every instance that issues rewards runs one.
func (s *Service) Journal() *JournalWriter { return &JournalWriter{s: s} }

// Run writes the journal until ctx ends, then writes what is left.
func (w *JournalWriter) Run(ctx context.Context) error {
	beaconDone := make(chan struct{})
	go func() { w.beacon(ctx); close(beaconDone) }()
	defer func() { <-beaconDone }()
	t := time.NewTicker(w.s.cfg.JournalInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := lifecycle.Detach(ctx, w.s.cfg.SettleTimeout)
			defer cancel()
			if err := w.s.flushJournal(fctx); err != nil {
				return err
			}
			return nil
		case <-t.C:
			if err := w.s.flushJournal(ctx); err != nil && ctx.Err() == nil {
				w.s.log.Warn("issuance journal", "err", err)
			}
		}
	}
}

// errJournalBehind is issuance's answer while the journal buffer is full.
func errJournalBehind() error {
	return errs.E(errs.Degraded, "issuance is paused while the database catches up with it; please try again shortly")
}
