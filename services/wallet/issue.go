package wallet

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/rewardorder"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/luascript"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/token"
)

// IssueInput is one reward an activity backend grants, as the backend sent it.
type IssueInput struct {
	ActID int64
	AppID int
	// ActivityID is the id the client sent, a parent's or a phase's: Issue resolves it to the
	// phase live at the request time (IssueResult.Activity). Everything after issuance takes
	// the resolved *activity.Live instead.
	ActivityID string
	SceneID    string
	RainID     int
	AwardType  string
	Stage      int
	Amount     int64
}

// IssueResult is what issuance answers.
type IssueResult struct {
	OrderNo  string
	Token    string // cash only
	Status   string // PENDING or SETTLED
	Replayed bool
	Activity *activity.Live
}

func (in *IssueInput) validate() error {
	switch {
	case in.ActID <= 0:
		return errs.Input("actId", "actId must be positive")
	case in.AppID < 1 || in.AppID > 8:
		return errs.Input("appId", "appId must be 1..8")
	case in.RainID < 0:
		return errs.Input("rainId", "rainId must not be negative")
	case in.Stage < 0:
		return errs.Input("stage", "stage must not be negative")
	case in.Amount <= 0:
		return errs.Input("amount", "amount must be positive")
	case !activity.AwardTypes[in.AwardType]:
		return errs.Input("awardType", "unknown awardType %q", in.AwardType)
	}
	if err := activity.ValidateID("activityId", in.ActivityID); err != nil {
		return err
	}
	return activity.ValidateID("sceneId", in.SceneID)
}

// Issue grants a reward. It touches only Redis: the reward is recorded pending, its token
// signed and the settlement job queued; the database sees it when the journal worker writes
// the order to the issuance journal and the settlement worker settles it. The same order with
// the same content replays the first answer; other content is IDEMPOTENCY_CONFLICT. Where
// Redis cannot vouch that an order is new (it lost data, or the order may be older than its
// record's lifetime), the database is asked before it is accepted.
func (s *Service) Issue(ctx context.Context, in IssueInput) (*IssueResult, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if in.AwardType == AwardCash && !s.switches.Enabled(switches.IssuanceCash) {
		return nil, Degraded("cash issuance")
	}
	if in.AwardType == AwardCoupon && !s.switches.Enabled(switches.IssuanceCoupon) {
		return nil, Degraded("coupon issuance")
	}
	if !s.switches.Enabled(switches.IssuanceApp(in.AppID)) {
		return nil, Degraded(fmt.Sprintf("issuance for app %d", in.AppID))
	}
	now := s.now()
	live, err := s.catalog.Resolve(ctx, in.ActivityID, now)
	if err != nil {
		return nil, err
	}
	scene, err := s.catalog.Scene(ctx, &live.Activity, in.SceneID)
	if err != nil {
		return nil, err
	}
	if scene.AwardType != in.AwardType {
		return nil, errs.Input("awardType", "scene %s issues %s, not %s", scene.SceneID, scene.AwardType, in.AwardType)
	}
	if scene.PerTxnLimit > 0 && in.Amount > scene.PerTxnLimit {
		return nil, errs.E(errs.LimitExceeded, "amount %d is over scene %s's per-transaction limit of %d", in.Amount, scene.SceneID, scene.PerTxnLimit)
	}
	if s.journalFull() {
		return nil, errJournalBehind()
	}
	o := Order{
		OrderNo:    OrderNo(in.ActID, in.SceneID, in.RainID, in.AwardType, in.Stage),
		ActivityID: live.ID, ActID: in.ActID, AppID: in.AppID, SceneID: in.SceneID, RainID: in.RainID,
		AwardType: in.AwardType, Stage: in.Stage, Amount: in.Amount, IssuedAtMs: now.UnixMilli(),
	}
	if o.IsCash() {
		o.Token, err = s.signer.Sign(token.Payload{
			AppID: int64(o.AppID), ActID: o.ActID, ActivityID: o.ActivityID, SceneID: o.SceneID, Amount: o.Amount,
			OutTradeNo: o.OrderNo, OpenTime: now.Unix(), RainID: int64(o.RainID), Status: token.StatusCreated,
		})
		if err != nil {
			return nil, err
		}
	}
	if err := s.scenes.AllowScene(ctx, live.ID, scene.SceneID, scene.RatePerSecond); err != nil {
		return nil, err
	}
	// From the reservation to the journal append, a recovery from Redis data loss waits for
	// this request (or this request for the recovery): see inflight.
	h := s.hold()
	defer h.done()
	if err := s.reserve(ctx, &live.Activity, scene, o.Amount, false, h); err != nil {
		// A replay of an order issued before the budget ran out still answers its first
		// result: look the order up only now, keeping the common path to one round trip.
		if errs.Is(err, errs.BudgetExhausted) {
			if res, lerr := s.lookup(ctx, o, &live.Activity, h); lerr != nil || res != nil {
				if res != nil {
					res.Activity = live
				}
				return res, lerr
			}
		}
		return nil, err
	}
	// A reservation made before Redis lost its data is gone with the counters, which are
	// rebuilt from the database without this order (not accepted yet): reserve again. (Where
	// only the account's Cluster node lost data, the first reservation survived: the budget is
	// charged twice for one reward, which only leaves budget unspent.)
	again := func() error { return s.reserve(ctx, &live.Activity, scene, o.Amount, false, h) }
	acc, err := s.accept(ctx, o, &live.Activity, true, false, again, h)
	if errs.Is(err, errs.IdempotencyConflict) || errs.Is(err, errs.LimitExceeded) {
		s.release(ctx, o.ActivityID, o.SceneID, o.Amount)
	}
	if err != nil {
		// Otherwise the reservation stays: the order may have been recorded before the error,
		// and an unused reservation only leaves budget unspent, never overspent.
		return nil, err
	}
	if acc.fresh {
		s.countIssued(o)
	} else {
		// The order was issued before (and charged then; a charge Redis lost is in the
		// counter rebuilt from the database).
		s.release(ctx, o.ActivityID, o.SceneID, o.Amount)
	}
	res := acc.res
	res.Activity = live
	return res, nil
}

// accepted is what accept did with an order.
type accepted struct {
	res *IssueResult
	// fresh: recorded now as a new reward (and journaled). Otherwise the order was known:
	// replayed from Redis, answered from the database, or restored from the journal.
	fresh bool
	// restored: Redis had lost the order; it was recorded again from the journal, with its
	// first token, and queued for settlement.
	restored bool
}

// accept records o as pending unless its order number is already known, and queues it. With
// capped set, the activity's per-user cap is enforced in the same script; without it (a token
// handed back, already promised) it is not. a is o's activity. With askDB the database is asked
// about the order even when Redis could vouch for it (a token handed back is usually one
// Redis lost). reserveAgain, when set, is called after a recovery from Redis data loss, before
// the order is accepted: the caller's budget reservation may have been lost. h is the caller's
// hold on the journal gate (epoch.go).
func (s *Service) accept(ctx context.Context, o Order, a *activity.Activity, capped, askDB bool, reserveAgain func() error, h *inflight) (*accepted, error) {
	var limit, version int64
	if capped {
		limit, version = a.PerUserCap, a.Version
	}
	earliest := s.earliestIssued(a)
	// Orders issued longer ago than a record lives may be forgotten by a Redis that lost
	// nothing: the database is asked first.
	if earliest < s.now().Add(-s.cfg.OrderTTL+orderTTLMargin).UnixMilli() {
		askDB = true
	}
	keys := []string{orderKey(o.ActivityID, o.ActID, o.OrderNo), pendingKey(o.ActivityID, o.ActID), capKey(o.ActivityID, o.ActID, version),
		accountMarker(o.ActivityID, o.ActID)}
	seed := any("-")
	checked, restoring := false, false
	for attempt := 0; attempt < 8; attempt++ {
		if askDB && !checked {
			k, err := s.lookupKnown(ctx, o.ActivityID, o.OrderNo)
			if err != nil {
				return nil, err
			}
			checked = true
			if k != nil {
				if k.content() != o.content() {
					return nil, errs.E(errs.IdempotencyConflict, "order %s was already issued with other content", o.OrderNo)
				}
				if k.Settled {
					s.remember(ctx, k.Order)
					return &accepted{res: &IssueResult{OrderNo: o.OrderNo, Token: k.Token, Status: StatusSettled, Replayed: true}}, nil
				}
				// Journaled and not settled: Redis lost it. It comes back as it was first
				// issued, counted under the cap and the budgets already.
				o, restoring, limit, seed = k.Order, true, 0, "-"
			}
		}
		flag := "0"
		if checked {
			flag = "1"
		}
		r, err := luascript.Run(ctx, s.rdb, issueScript, keys, o.content(), o.Token, o.marshal(), o.OrderNo,
			s.cfg.OrderTTL.Milliseconds(), o.IssuedAtMs, limit, seed, s.cfg.OrderTTL.Milliseconds(), earliest, flag)
		if err != nil {
			return nil, fmt.Errorf("issue %s: %w", o.OrderNo, err)
		}
		switch r.Outcome {
		case outcomeNew, outcomeReplay:
			return s.accepted(ctx, o, r, restoring)
		case outcomeConflict:
			return nil, errs.E(errs.IdempotencyConflict, "order %s was already issued with other content", o.OrderNo)
		case outcomeOverCap:
			return nil, errs.E(errs.LimitExceeded, "account %d would receive more than the activity's cap of %d fen", o.ActID, limit)
		case outcomeSeed:
			// The account's total under the cap is not in Redis (first reward, a changed cap, or
			// Redis lost it): start it from what the database knows.
			if seed, err = s.receivedFromDB(ctx, o.ActivityID, o.ActID); err != nil {
				return nil, err
			}
		case outcomeLost:
			if err := s.recoverRedis(ctx, keys[3], h); err != nil {
				return nil, err
			}
			if reserveAgain != nil {
				if err := reserveAgain(); err != nil {
					return nil, err
				}
			}
			// Whatever the database said before the recovery waited for the journals may be incomplete.
			checked, seed = false, "-"
		case outcomeCheck:
			askDB = true
		default:
			return nil, fmt.Errorf("issue %s: unknown script outcome %q", o.OrderNo, r.Outcome)
		}
	}
	return nil, fmt.Errorf("issue %s: no decision after repeated attempts", o.OrderNo)
}

// accepted finishes an accepted order: a new one is journaled, and a new or restored one (or a
// replay of one still pending, after a moment: the first attempt may have died between the
// script and the queue) is queued for settlement. A duplicate job is harmless.
func (s *Service) accepted(ctx context.Context, o Order, r luascript.Result, restoring bool) (*accepted, error) {
	tok, st, at := r.String(0), r.Int(1), r.Int(2)
	isNew := r.Outcome == outcomeNew
	acc := &accepted{res: &IssueResult{OrderNo: o.OrderNo, Token: tok, Status: statusName(st), Replayed: !isNew || restoring},
		fresh: isNew && !restoring, restored: isNew && restoring}
	if acc.fresh {
		s.journalAdd(o)
	}
	if isNew || (st < token.StatusSuccess && s.now().Sub(time.UnixMilli(at)) > 2*time.Second) {
		if err := s.enqueue(ctx, o.ActivityID, o.ActID, o.OrderNo); err != nil {
			// The reward is recorded and counted as pending; the sweeper queues it later.
			s.log.Warn("queue settlement", "order", o.OrderNo, "err", err)
		}
	}
	return acc, nil
}

// remember writes the Redis record of an order the database has settled, so that its next
// replays need no database; failing to is only slower.
func (s *Service) remember(ctx context.Context, o Order) {
	err := rememberScript.Run(ctx, s.rdb, []string{orderKey(o.ActivityID, o.ActID, o.OrderNo)}, o.content(), o.Token,
		token.StatusSuccess, o.IssuedAtMs, s.cfg.OrderTTL.Milliseconds()).Err()
	if err != nil {
		s.log.Warn("remember settled order", "order", o.OrderNo, "err", err)
	}
}

// enqueue appends a settlement job for one order to its account's shard.
func (s *Service) enqueue(ctx context.Context, activityID string, actID int64, orderNo string) error {
	return s.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: streamKey(shardOf(activityID, actID, s.cfg.Shards)),
		Values: []string{"a", activityID, "u", fmt.Sprint(actID), "o", orderNo},
	}).Err()
}

// lookup answers a known order as a replay (or IDEMPOTENCY_CONFLICT), nil when it is unknown:
// from its Redis record, or, where Redis cannot vouch for the order (it lost data, or the
// order may be older than its record), from the database.
func (s *Service) lookup(ctx context.Context, o Order, a *activity.Activity, h *inflight) (*IssueResult, error) {
	r, err := s.rdb.HMGet(ctx, orderKey(o.ActivityID, o.ActID, o.OrderNo), "c", "tok", "st").Result()
	if err != nil {
		return nil, fmt.Errorf("look up order: %w", err)
	}
	c, _ := r[0].(string)
	if c == "" {
		// Budgets are exhausted, so this is off the hot path: ask the database.
		k, err := s.lookupKnown(ctx, o.ActivityID, o.OrderNo)
		switch {
		case err != nil || k == nil:
			return nil, err
		case k.content() != o.content():
			return nil, errs.E(errs.IdempotencyConflict, "order %s was already issued with other content", o.OrderNo)
		case k.Settled:
			return &IssueResult{OrderNo: o.OrderNo, Token: k.Token, Status: StatusSettled, Replayed: true}, nil
		}
		// Journaled, lost from Redis: restore it (it needs no budget: it was charged once).
		acc, err := s.accept(ctx, k.Order, a, false, true, nil, h)
		if err != nil {
			return nil, err
		}
		return acc.res, nil
	}
	if c != o.content() {
		return nil, errs.E(errs.IdempotencyConflict, "order %s was already issued with other content", o.OrderNo)
	}
	tok, _ := r[1].(string)
	stText, _ := r[2].(string)
	st, _ := strconv.ParseInt(stText, 10, 64)
	return &IssueResult{OrderNo: o.OrderNo, Token: tok, Status: statusName(st), Replayed: true}, nil
}

// receivedFromDB is what the database knows an account received in an activity, all award
// types, for seeding its per-user cap total: what it settled, and what is journaled but not
// settled, except what Redis holds pending (the issuance script adds that).
func (s *Service) receivedFromDB(ctx context.Context, activityID string, actID int64) (int64, error) {
	inRedis, err := s.rdb.HKeys(ctx, pendingKey(activityID, actID)).Result()
	if err != nil {
		return 0, fmt.Errorf("read pending: %w", err)
	}
	pending := make(map[string]bool, len(inRedis))
	for _, no := range inRedis {
		pending[no] = true
	}
	var total int64
	err = s.db.ReadTx(ctx, func(tx *ent.Tx) error {
		var rows []struct {
			Sum int64 `json:"sum"`
		}
		err := tx.RewardOrder.Query().Where(rewardorder.ActivityID(activityID), rewardorder.ActID(actID)).
			Aggregate(ent.As(ent.Sum(rewardorder.FieldAmount), "sum")).Scan(ctx, &rows)
		if err != nil {
			return fmt.Errorf("sum received rewards: %w", err)
		}
		if len(rows) > 0 {
			total = rows[0].Sum
		}
		journaled, err := journaledPending(ctx, tx.Client(), activityID, actID)
		if err != nil {
			return err
		}
		done, err := settledAmong(ctx, tx.Client(), activityID, journaled)
		if err != nil {
			return err
		}
		for _, o := range journaled {
			if !pending[o.OrderNo] && !done[o.OrderNo] {
				total += o.Amount
			}
		}
		return nil
	})
	return total, err
}
