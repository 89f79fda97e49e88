// Package reconcile checks that one (child) activity's money adds up: the ledger against
// itself, balances, settled orders, withdrawals and red packets against the ledger, and the
// Redis state (pending rewards, budget counters) against the database. Each run is stored as
// a report and audited. It only reads and reports; repairs are separate, deliberate steps.
//
// Discrepancy kinds (Discrepancy.Kind):
//
//	TXN_UNBALANCED              a ledger transaction's legs do not sum to zero (Ref: txn id)
//	LEDGER_UNBALANCED           the activity's whole ledger does not sum to zero
//	BALANCE_MISMATCH            a balance row is not the sum of the user's ledger legs, or
//	                            legs have no balance row (Ref: act_id)
//	BALANCE_NEGATIVE            a balance row is below zero (Ref: act_id)
//	REWARD_LEGS_MISMATCH        a settled order lacks exactly its two legs: cash its REWARD legs
//	                            (budget −amount, user +amount), other award types their
//	                            ASSET_GRANT legs (budget −face value, asset account +face
//	                            value); ref = order no (OrderNo)
//	REWARD_LEGS_ORPHANED        REWARD or ASSET_GRANT legs whose ref is no settled order of
//	                            their kind (OrderNo: ref)
//	ASSET_MISSING               a settled non-cash order without its asset row (OrderNo)
//	STALE_PENDING               a settled order that Redis still holds as pending: in its
//	                            account's pending hash, or its record's status below 8 (OrderNo)
//	CLEARING_MISMATCH           the payout clearing account differs from the sum of the
//	                            PROCESSING withdrawals
//	WITHDRAWAL_LEGS_MISMATCH    a withdrawal lacks its opening legs, or its closing legs do not
//	                            match its status (Ref: withdrawal id)
//	RED_PACKET_UNBALANCED       grabs + refund + what escrow still holds (the remaining amount
//	                            while OPEN, nothing once FINISHED or EXPIRED) ≠ total (Ref: id)
//	RED_PACKET_ESCROW_MISMATCH  an open packet's escrow account ≠ its remaining amount (Ref: id)
//	RED_PACKET_ESCROW_NOT_EMPTY a finished or expired packet's escrow account is not zero
//	BUDGET_COUNTER_LOW          a Redis budget counter is below what the database knows was
//	                            issued (settled orders and journaled ones not settled yet): the
//	                            budget could be overspent (Ref: scene, "*" for the activity's
//	                            overall counter)
//	BUDGET_COUNTER_HIGH         a Redis budget counter, read before the database, is above what
//	                            the database knows was issued once every instance's journal has
//	                            caught up: budget reserved for nothing (a reservation kept after
//	                            an error, a token charged twice) or rewards only Redis knew of
//	                            (Ref: scene or "*")
//	BUDGET_OVERSPENT            a scene issued more than its budget less its reserve, or the
//	                            activity more than its budgetTotal (when it has one), by what the
//	                            orders say (settled plus journaled, every award type at face
//	                            value) or by what the ledger's budget account paid out, whichever
//	                            is larger; against the current budgets, so a budget lowered below
//	                            what was already issued shows here too (Ref: scene or "*")
package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/reconciliationreport"
	"github.com/springwallet/wallet/ent/rewardorder"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/audit"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/lifecycle"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/wallet"
)

// Discrepancy kinds; see the package documentation.
const (
	KindTxnUnbalanced           = "TXN_UNBALANCED"
	KindLedgerUnbalanced        = "LEDGER_UNBALANCED"
	KindBalanceMismatch         = "BALANCE_MISMATCH"
	KindBalanceNegative         = "BALANCE_NEGATIVE"
	KindRewardLegsMismatch      = "REWARD_LEGS_MISMATCH"
	KindRewardLegsOrphaned      = "REWARD_LEGS_ORPHANED"
	KindAssetMissing            = "ASSET_MISSING"
	KindStalePending            = "STALE_PENDING"
	KindClearingMismatch        = "CLEARING_MISMATCH"
	KindWithdrawalLegsMismatch  = "WITHDRAWAL_LEGS_MISMATCH"
	KindRedPacketUnbalanced     = "RED_PACKET_UNBALANCED"
	KindRedPacketEscrowMismatch = "RED_PACKET_ESCROW_MISMATCH"
	KindRedPacketEscrowNotEmpty = "RED_PACKET_ESCROW_NOT_EMPTY"
	KindBudgetCounterLow        = "BUDGET_COUNTER_LOW"
	KindBudgetCounterHigh       = "BUDGET_COUNTER_HIGH"
	KindBudgetOverspent         = "BUDGET_OVERSPENT"
)

// Kinds lists every discrepancy kind.
var Kinds = []string{
	KindTxnUnbalanced, KindLedgerUnbalanced, KindBalanceMismatch, KindBalanceNegative, KindRewardLegsMismatch,
	KindRewardLegsOrphaned, KindAssetMissing, KindStalePending, KindClearingMismatch, KindWithdrawalLegsMismatch,
	KindRedPacketUnbalanced, KindRedPacketEscrowMismatch, KindRedPacketEscrowNotEmpty, KindBudgetCounterLow,
	KindBudgetCounterHigh, KindBudgetOverspent,
}

// Discrepancy is one disagreement a run found.
type Discrepancy struct {
	Kind string `json:"kind"`
	// OrderNo is the reward order concerned, when there is one.
	OrderNo string `json:"orderNo,omitempty"`
	// Ref is the other object concerned: a txn id, an act_id, a withdrawal or packet id, a scene.
	Ref    string `json:"ref,omitempty"`
	Detail string `json:"detail"`
}

// Checked says how much a run examined.
type Checked struct {
	LedgerLegs   int64 `json:"ledgerLegs"`
	Transactions int64 `json:"transactions"`
	Balances     int64 `json:"balances"`
	Orders       int64 `json:"orders"`
	Withdrawals  int64 `json:"withdrawals"`
	RedPackets   int64 `json:"redPackets"`
	Scenes       int64 `json:"scenes"`
}

// Report is the stored outcome of one run.
type Report struct {
	ID string
	// ActivityID is the child activity checked; RequestedID what the operator named.
	ActivityID, RequestedID string
	OK                      bool
	// DiscrepancyCount counts every discrepancy; Discrepancies holds at most Config.MaxListed.
	DiscrepancyCount int
	Discrepancies    []Discrepancy
	Checked          Checked
	Actor            string
	StartedAt        time.Time
	FinishedAt       time.Time
}

// Config tunes runs.
type Config struct {
	// Grace is how long after settling an order may still be pending in Redis: settlement
	// clears Redis just after its commit, and the sweeper finishes a cleanup a crash cut short
	// within about a minute. Only orders settled longer ago count as STALE_PENDING.
	Grace time.Duration
	// MaxListed bounds the discrepancies a report lists (all are counted).
	MaxListed int
	// Page is how many settled orders are checked against Redis per round trip.
	Page int
	// Timeout bounds one run. A run continues when its caller stops waiting, so that its
	// report is stored and can be listed afterwards.
	Timeout time.Duration
	// JournalLag is how long after reading the budget counters a run waits before it reads
	// the database, so that every instance's issuance journal holds what those counters had
	// counted (ten of the wallet's JournalIntervals): only then is a counter above the
	// database's total really too high. It only keeps BUDGET_COUNTER_HIGH from crying wolf.
	JournalLag time.Duration
}

// DefaultConfig is what the server runs with.
func DefaultConfig() Config {
	return Config{Grace: 2 * time.Minute, MaxListed: 1000, Page: 2000, Timeout: 10 * time.Minute, JournalLag: 10 * wallet.DefaultConfig().JournalInterval}
}

// RedisState reads what the reward core keeps in Redis (the wallet service implements it).
type RedisState interface {
	BudgetCounters(ctx context.Context, activityID string, sceneIDs []string) (map[string]wallet.BudgetCounter, wallet.BudgetCounter, error)
	RedisOrderStates(ctx context.Context, activityID string, refs []wallet.OrderRef) ([]wallet.RedisOrderState, error)
	// FlushJournal writes this instance's issuance journal (the other instances write theirs
	// within Config.JournalLag).
	FlushJournal(ctx context.Context) error
}

// Service runs reconciliations and keeps their reports.
type Service struct {
	db      *store.DB
	wallet  RedisState
	catalog *activity.Catalog
	now     func() time.Time
	log     *slog.Logger
	cfg     Config
}

// New returns the Service; it reads Redis through w and resolves activities with catalog.
func New(db *store.DB, w RedisState, catalog *activity.Catalog, now func() time.Time, log *slog.Logger, cfg Config) *Service {
	def := DefaultConfig()
	if cfg.Grace <= 0 {
		cfg.Grace = def.Grace
	}
	if cfg.MaxListed <= 0 {
		cfg.MaxListed = def.MaxListed
	}
	if cfg.Page <= 0 {
		cfg.Page = def.Page
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = def.Timeout
	}
	if cfg.JournalLag <= 0 {
		cfg.JournalLag = def.JournalLag
	}
	return &Service{db: db, wallet: w, catalog: catalog, now: now, log: log, cfg: cfg}
}

// findings collects discrepancies: all are counted, the first max are kept.
type findings struct {
	max    int
	list   []Discrepancy
	count  int
	byKind map[string]int
}

func (f *findings) add(d Discrepancy) {
	f.count++
	f.byKind[d.Kind]++
	if len(f.list) < f.max {
		f.list = append(f.list, d)
	}
}

// Run reconciles one activity (the live child for a parent id), stores the report and writes
// an audit entry in the same transaction.
func (s *Service) Run(ctx context.Context, activityID string) (*Report, error) {
	started := s.now()
	a, err := s.catalog.Target(ctx, activityID, started)
	if err != nil {
		return nil, err
	}
	ctx, cancel := lifecycle.Detach(ctx, s.cfg.Timeout)
	defer cancel()
	f := &findings{max: s.cfg.MaxListed, list: []Discrepancy{}, byKind: map[string]int{}}
	var checked Checked
	// The budget counters as they stand before the database is read: once every journal has
	// caught up with them, the database knows at least what they counted.
	scenes, err := s.catalog.Scenes(ctx, a)
	if err != nil {
		return nil, err
	}
	before, _, err := s.counters(ctx, a.ID, scenes, nil)
	if err != nil {
		return nil, fmt.Errorf("reconcile %s: %w", a.ID, err)
	}
	if err := s.wallet.FlushJournal(ctx); err != nil {
		return nil, fmt.Errorf("reconcile %s: %w", a.ID, err)
	}
	lifecycle.Sleep(ctx, s.cfg.JournalLag)
	// One snapshot for every database check, so a settlement or payout committing meanwhile
	// cannot look like a disagreement between two tables.
	q := &querier{activityID: a.ID, f: f, checked: &checked}
	err = s.db.ReadTx(ctx, func(tx *ent.Tx) error {
		q.tx = tx
		for _, c := range []struct {
			name string
			run  func(context.Context) error
		}{{"ledger", q.ledger}, {"balances", q.balances}, {"rewards", q.rewards}, {"withdrawals", q.withdrawals},
			{"red packets", q.redPackets}, {"issued by scene", q.issuedByScene}} {
			at := time.Now()
			if err := c.run(ctx); err != nil {
				return err
			}
			s.log.Debug("reconciliation check", "activity", a.ID, "check", c.name, "took", time.Since(at))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reconcile %s: %w", a.ID, err)
	}
	// Redis is read again after the snapshot: budget counters only grow between the two, so a
	// counter below the snapshot's totals is low for real.
	if err := s.budgets(ctx, a, scenes, q, before, f, &checked); err != nil {
		return nil, fmt.Errorf("reconcile %s: %w", a.ID, err)
	}
	if err := s.stalePending(ctx, a.ID, started.Add(-s.cfg.Grace), f); err != nil {
		return nil, fmt.Errorf("reconcile %s: %w", a.ID, err)
	}
	rep := &Report{
		ID: newID(started), ActivityID: a.ID, RequestedID: activityID, OK: f.count == 0, DiscrepancyCount: f.count,
		Discrepancies: f.list, Checked: checked, Actor: audit.Actor(ctx),
		StartedAt: started.UTC().Truncate(time.Microsecond), FinishedAt: s.now().UTC().Truncate(time.Microsecond),
	}
	if err := s.save(ctx, rep, f.byKind); err != nil {
		return nil, err
	}
	if !rep.OK {
		s.log.Warn("reconciliation found discrepancies", "activity", a.ID, "report", rep.ID, "count", rep.DiscrepancyCount, "kinds", f.byKind)
	}
	return rep, nil
}

// save stores the report and its audit entry in one transaction.
func (s *Service) save(ctx context.Context, rep *Report, byKind map[string]int) error {
	list, err := json.Marshal(rep.Discrepancies)
	if err != nil {
		return fmt.Errorf("encode discrepancies: %w", err)
	}
	checked, err := json.Marshal(rep.Checked)
	if err != nil {
		return fmt.Errorf("encode checked: %w", err)
	}
	after := map[string]any{"reportId": rep.ID, "ok": rep.OK, "discrepancyCount": rep.DiscrepancyCount, "kinds": byKind}
	return s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		err := tx.ReconciliationReport.Create().SetID(rep.ID).SetActivityID(rep.ActivityID).SetRequestedID(rep.RequestedID).
			SetOk(rep.OK).SetDiscrepancyCount(rep.DiscrepancyCount).SetDiscrepancies(string(list)).SetChecked(string(checked)).
			SetActor(rep.Actor).SetStartedAt(rep.StartedAt).SetFinishedAt(rep.FinishedAt).Exec(ctx)
		if err != nil {
			return fmt.Errorf("store reconciliation report: %w", err)
		}
		return audit.Write(ctx, tx, "runReconciliation", rep.ActivityID, nil, after, "", rep.FinishedAt)
	})
}

// List returns the newest first reports of an activity (the live child for a parent id);
// first is 1..100.
func (s *Service) List(ctx context.Context, activityID string, first int) ([]*Report, error) {
	if first < 1 || first > 100 {
		return nil, errs.Input("first", "first must be 1..100")
	}
	a, err := s.catalog.Target(ctx, activityID, s.now())
	if err != nil {
		return nil, err
	}
	rows, err := s.db.R.ReconciliationReport.Query().Where(reconciliationreport.ActivityID(a.ID)).
		Order(ent.Desc(reconciliationreport.FieldStartedAt), ent.Desc(reconciliationreport.FieldID)).Limit(first).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list reconciliation reports: %w", err)
	}
	out := make([]*Report, len(rows))
	for i, r := range rows {
		rep := &Report{ID: r.ID, ActivityID: r.ActivityID, RequestedID: r.RequestedID, OK: r.Ok, DiscrepancyCount: r.DiscrepancyCount,
			Actor: r.Actor, StartedAt: r.StartedAt.UTC(), FinishedAt: r.FinishedAt.UTC()}
		if err := json.Unmarshal([]byte(r.Discrepancies), &rep.Discrepancies); err != nil {
			return nil, fmt.Errorf("decode report %s: %w", r.ID, err)
		}
		if err := json.Unmarshal([]byte(r.Checked), &rep.Checked); err != nil {
			return nil, fmt.Errorf("decode report %s: %w", r.ID, err)
		}
		out[i] = rep
	}
	return out, nil
}

// counterSet is the budget counters of some scenes, and the activity's overall counter.
type counterSet struct {
	scenes map[string]wallet.BudgetCounter
	all    wallet.BudgetCounter
}

// counters reads the counters of the given scenes and of the scene ids in extra.
func (s *Service) counters(ctx context.Context, activityID string, scenes []*activity.Scene, extra map[string]int64) (counterSet, []string, error) {
	ids := map[string]bool{}
	for _, sc := range scenes {
		ids[sc.SceneID] = true
	}
	for id := range extra {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	c, all, err := s.wallet.BudgetCounters(ctx, activityID, sorted)
	return counterSet{scenes: c, all: all}, sorted, err
}

// budgets compares the Redis budget counters with the totals the database knows were issued
// (low: read after the snapshot; high: read before it, with the journals caught up since),
// and what was issued and paid out with the budgets.
func (s *Service) budgets(ctx context.Context, a *activity.Activity, scenes []*activity.Scene, q *querier, before counterSet, f *findings, checked *Checked) error {
	after, sorted, err := s.counters(ctx, a.ID, scenes, q.issued)
	if err != nil {
		return err
	}
	checked.Scenes = int64(len(sorted))
	limits := map[string]int64{}
	for _, sc := range scenes {
		limits[sc.SceneID] = wallet.SceneLimit(sc)
	}
	var total, paid int64
	for _, id := range sorted {
		issued := q.issued[id]
		total += issued
		paid += q.paid[id]
		// A missing counter is rebuilt from the database's totals before the next issuance.
		if c := after.scenes[id]; c.Present && c.Issued < issued {
			f.add(Discrepancy{Kind: KindBudgetCounterLow, Ref: id,
				Detail: fmt.Sprintf("scene %s: the redis counter says %d fen issued, the database knows %d", id, c.Issued, issued)})
		}
		if c := before.scenes[id]; c.Present && c.Issued > issued {
			f.add(Discrepancy{Kind: KindBudgetCounterHigh, Ref: id,
				Detail: fmt.Sprintf("scene %s: the redis counter said %d fen issued, the database knows %d", id, c.Issued, issued)})
		}
		if limit, ok := limits[id]; ok {
			if spent := max(issued, q.paid[id]); spent > limit {
				f.add(Discrepancy{Kind: KindBudgetOverspent, Ref: id, Detail: fmt.Sprintf(
					"scene %s: %d fen issued (%d paid out of its budget account), more than the %d its budget less reserve allows", id, issued, q.paid[id], limit)})
			}
		}
	}
	if after.all.Present && after.all.Issued < total {
		f.add(Discrepancy{Kind: KindBudgetCounterLow, Ref: "*",
			Detail: fmt.Sprintf("activity %s: the redis counter says %d fen issued, the database knows %d", a.ID, after.all.Issued, total)})
	}
	if before.all.Present && before.all.Issued > total {
		f.add(Discrepancy{Kind: KindBudgetCounterHigh, Ref: "*",
			Detail: fmt.Sprintf("activity %s: the redis counter said %d fen issued, the database knows %d", a.ID, before.all.Issued, total)})
	}
	if spent := max(total, paid); a.BudgetTotal > 0 && spent > a.BudgetTotal {
		f.add(Discrepancy{Kind: KindBudgetOverspent, Ref: "*", Detail: fmt.Sprintf(
			"activity %s: %d fen issued (%d paid out of its budget accounts), more than its budgetTotal of %d", a.ID, total, paid, a.BudgetTotal)})
	}
	return nil
}

// stalePending walks the orders settled before cutoff, a page at a time in order-number order
// (the unique index), and asks Redis about each page in one pipeline.
func (s *Service) stalePending(ctx context.Context, activityID string, cutoff time.Time, f *findings) error {
	after := ""
	for {
		rows, err := s.db.R.RewardOrder.Query().Where(rewardorder.ActivityID(activityID), rewardorder.OrderNoGT(after)).
			Order(ent.Asc(rewardorder.FieldOrderNo)).Limit(s.cfg.Page).
			Select(rewardorder.FieldOrderNo, rewardorder.FieldActID, rewardorder.FieldSettledAt).All(ctx)
		if err != nil {
			return fmt.Errorf("page settled orders: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		// settled_at is compared here rather than in SQL: SQLite compares times as text, and
		// rows written with different zone offsets would not compare right.
		refs := make([]wallet.OrderRef, 0, len(rows))
		for _, r := range rows {
			if r.SettledAt.Before(cutoff) {
				refs = append(refs, wallet.OrderRef{ActID: r.ActID, OrderNo: r.OrderNo})
			}
		}
		states, err := s.wallet.RedisOrderStates(ctx, activityID, refs)
		if err != nil {
			return err
		}
		for i, st := range states {
			switch {
			case st.InPending:
				f.add(Discrepancy{Kind: KindStalePending, OrderNo: refs[i].OrderNo,
					Detail: fmt.Sprintf("settled, but still in act %d's pending rewards in redis", refs[i].ActID)})
			case st.Status > 0 && st.Status < 8:
				f.add(Discrepancy{Kind: KindStalePending, OrderNo: refs[i].OrderNo,
					Detail: fmt.Sprintf("settled, but its redis record still has token status %d", st.Status)})
			}
		}
		if len(rows) < s.cfg.Page {
			return nil
		}
		after = rows[len(rows)-1].OrderNo
	}
}

// newID returns a report id that sorts by start time.
func newID(at time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "rc" + fmt.Sprintf("%016x", at.UnixMicro()) + hex.EncodeToString(b[:])
}
