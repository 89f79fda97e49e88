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
// signed and the settlement job queued; the database sees it when the worker settles it.
// The same order with the same content replays the first answer; other content is
// IDEMPOTENCY_CONFLICT.
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
	if err := s.reserve(ctx, &live.Activity, scene, o.Amount, false); err != nil {
		// A replay of an order issued before the budget ran out still answers its first
		// result: look the order up only now, keeping the common path to one round trip.
		if errs.Is(err, errs.BudgetExhausted) {
			if res, lerr := s.lookup(ctx, o); lerr != nil || res != nil {
				if res != nil {
					res.Activity = live
				}
				return res, lerr
			}
		}
		return nil, err
	}
	res, err := s.accept(ctx, o, &live.Activity)
	if errs.Is(err, errs.IdempotencyConflict) || errs.Is(err, errs.LimitExceeded) {
		s.release(ctx, o.ActivityID, o.SceneID, o.Amount)
	}
	if err != nil {
		// Otherwise the reservation stays: the order may have been recorded before the error,
		// and an unused reservation only leaves budget unspent, never overspent.
		return nil, err
	}
	if res.Replayed {
		s.release(ctx, o.ActivityID, o.SceneID, o.Amount)
	} else {
		s.countIssued(o)
	}
	res.Activity = live
	return res, nil
}

// accept records o as pending unless its order number is already known, and queues it. With
// capped set, the activity's per-user cap is enforced in the same script; without it (a token
// handed back, already promised) it is not.
func (s *Service) accept(ctx context.Context, o Order, capped *activity.Activity) (*IssueResult, error) {
	var limit, version int64
	if capped != nil {
		limit, version = capped.PerUserCap, capped.Version
	}
	keys := []string{orderKey(o.ActivityID, o.ActID, o.OrderNo), pendingKey(o.ActivityID, o.ActID), capKey(o.ActivityID, o.ActID, version)}
	seed := any("-")
	var r luascript.Result
	for attempt := 0; ; attempt++ {
		var err error
		r, err = luascript.Run(ctx, s.rdb, issueScript, keys, o.content(), o.Token, o.marshal(), o.OrderNo,
			s.cfg.OrderTTL.Milliseconds(), o.IssuedAtMs, limit, seed, s.cfg.OrderTTL.Milliseconds())
		if err != nil {
			return nil, fmt.Errorf("issue %s: %w", o.OrderNo, err)
		}
		if r.Outcome != outcomeSeed || attempt > 0 {
			break
		}
		// The account's total under the cap is not in Redis (first reward, a changed cap, or
		// Redis lost it): start it from what the database settled.
		if seed, err = s.receivedFromDB(ctx, o.ActivityID, o.ActID); err != nil {
			return nil, err
		}
	}
	tok, st, at := r.String(0), r.Int(1), r.Int(2)
	switch r.Outcome {
	case outcomeNew, outcomeReplay:
	case outcomeConflict:
		return nil, errs.E(errs.IdempotencyConflict, "order %s was already issued with other content", o.OrderNo)
	case outcomeOverCap:
		return nil, errs.E(errs.LimitExceeded, "account %d would receive more than the activity's cap of %d fen", o.ActID, limit)
	case outcomeSeed:
		return nil, fmt.Errorf("issue %s: per-user total missing after seeding", o.OrderNo)
	default:
		return nil, fmt.Errorf("issue %s: unknown script outcome %q", o.OrderNo, r.Outcome)
	}
	res := &IssueResult{OrderNo: o.OrderNo, Token: tok, Status: statusName(st), Replayed: r.Outcome == outcomeReplay}
	// A new order is queued now. A replay of one still pending is queued again when it is
	// older than a moment: the first attempt may have died between the script and the queue,
	// and a duplicate job is harmless (settlement is idempotent).
	if r.Outcome == outcomeNew || (st < token.StatusSuccess && s.now().Sub(time.UnixMilli(at)) > 2*time.Second) {
		if err := s.enqueue(ctx, o.ActivityID, o.ActID, o.OrderNo); err != nil {
			// The reward is recorded and counted as pending; the sweeper queues it later.
			s.log.Warn("queue settlement", "order", o.OrderNo, "err", err)
		}
	}
	return res, nil
}

// enqueue appends a settlement job for one order to its account's shard.
func (s *Service) enqueue(ctx context.Context, activityID string, actID int64, orderNo string) error {
	return s.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: streamKey(shardOf(activityID, actID, s.cfg.Shards)),
		Values: []string{"a", activityID, "u", fmt.Sprint(actID), "o", orderNo},
	}).Err()
}

// lookup answers a known order as a replay (or IDEMPOTENCY_CONFLICT), nil when it is unknown.
func (s *Service) lookup(ctx context.Context, o Order) (*IssueResult, error) {
	r, err := s.rdb.HMGet(ctx, orderKey(o.ActivityID, o.ActID, o.OrderNo), "c", "tok", "st").Result()
	if err != nil {
		return nil, fmt.Errorf("look up order: %w", err)
	}
	c, _ := r[0].(string)
	if c == "" {
		return nil, nil
	}
	if c != o.content() {
		return nil, errs.E(errs.IdempotencyConflict, "order %s was already issued with other content", o.OrderNo)
	}
	tok, _ := r[1].(string)
	stText, _ := r[2].(string)
	st, _ := strconv.ParseInt(stText, 10, 64)
	return &IssueResult{OrderNo: o.OrderNo, Token: tok, Status: statusName(st), Replayed: true}, nil
}

// receivedFromDB is what the database settled for an account in an activity, all award types.
func (s *Service) receivedFromDB(ctx context.Context, activityID string, actID int64) (int64, error) {
	var rows []struct {
		Sum int64 `json:"sum"`
	}
	err := s.db.R.RewardOrder.Query().Where(rewardorder.ActivityID(activityID), rewardorder.ActID(actID)).
		Aggregate(ent.As(ent.Sum(rewardorder.FieldAmount), "sum")).Scan(ctx, &rows)
	if err != nil {
		return 0, fmt.Errorf("sum received rewards: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	return rows[0].Sum, nil
}
