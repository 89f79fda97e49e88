package wallet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/rewardorder"
	"github.com/springwallet/wallet/services/audit"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/lifecycle"
)

// MaxReissueBatch is the most orders one re-issue may carry: enough to repair an incident in a
// few calls, few enough that a batch finishes well within the admin endpoint's timeout.
const MaxReissueBatch = 500

// ReissueTimeout bounds one batch once begun: it runs on when its caller leaves, so that its
// audit entry is written, but not forever.
const ReissueTimeout = 2 * time.Minute

// Re-issue outcomes of one order.
const (
	ReissueAccepted = "ACCEPTED"
	ReissueReplayed = "REPLAYED"
	ReissueFailed   = "FAILED"
)

// ReissueInput is a batch of rewards an operator issues again, and why.
type ReissueInput struct {
	Orders []IssueInput
	Reason string
}

// ReissueOrderResult is what became of one order of a batch.
type ReissueOrderResult struct {
	OrderNo string
	// Outcome is ReissueAccepted, ReissueReplayed or ReissueFailed.
	Outcome string
	// Status is the reward's status (PENDING or SETTLED); empty when it failed.
	Status string
	// Code and Message say why it failed.
	Code    errs.Code
	Message string
}

// ReissueFailure is one order that was not issued; it is also what the audit entry lists.
type ReissueFailure struct {
	OrderNo string    `json:"orderNo"`
	Code    errs.Code `json:"code"`
}

// ReissueResult is what a batch did, order by order.
type ReissueResult struct {
	Accepted, Replayed int
	Failed             []ReissueFailure
	Results            []ReissueOrderResult
}

// reissueSummary is the audit entry's after.
type reissueSummary struct {
	Orders   int              `json:"orders"`
	Accepted int              `json:"accepted"`
	Replayed int              `json:"replayed"`
	Failed   []ReissueFailure `json:"failed"`
}

// Reissue issues a batch of rewards again, each through Issue, the path issueReward takes:
// budgets, limits, rates and switches apply, and an order already issued is replayed (or
// IDEMPOTENCY_CONFLICT when its content differs), so a reward is never paid twice. Orders
// the database has settled are answered from the database first, so a re-issue stays a
// replay even after Redis forgot the order (its record expired, or Redis lost its data).
//
// The batch is refused whole (BAD_USER_INPUT) without a reason or with 0 or more than
// MaxReissueBatch orders; otherwise every order gets its own result. One audit entry records
// the batch. Issuance writes only to Redis, so there is no database transaction to share:
// the entry is written in its own transaction once the batch is done. The batch runs on even
// when the caller goes away, so the entry is not lost with the connection; should writing it
// fail, the caller gets the error and may send the batch again, which only replays.
func (s *Service) Reissue(ctx context.Context, in ReissueInput) (*ReissueResult, error) {
	reason := strings.TrimSpace(in.Reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 {
		return nil, errs.Input("reason", "a reason (1..500 characters) is required")
	}
	if len(in.Orders) == 0 || len(in.Orders) > MaxReissueBatch {
		return nil, errs.Input("orders", "a re-issue takes 1..%d orders, not %d", MaxReissueBatch, len(in.Orders))
	}
	ctx, cancel := lifecycle.Detach(ctx, ReissueTimeout)
	defer cancel()
	settled, err := s.settledOrders(ctx, in.Orders)
	if err != nil {
		return nil, err
	}
	res := &ReissueResult{Failed: []ReissueFailure{}, Results: make([]ReissueOrderResult, len(in.Orders))}
	for i, o := range in.Orders {
		r := s.reissueOne(ctx, o, settled)
		switch r.Outcome {
		case ReissueAccepted:
			res.Accepted++
		case ReissueReplayed:
			res.Replayed++
		default:
			res.Failed = append(res.Failed, ReissueFailure{OrderNo: r.OrderNo, Code: r.Code})
		}
		res.Results[i] = r
	}
	summary := reissueSummary{Orders: len(in.Orders), Accepted: res.Accepted, Replayed: res.Replayed, Failed: res.Failed}
	err = s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		return audit.Write(ctx, tx, "reissueRewards", fmt.Sprintf("batch:%d", len(in.Orders)), nil, summary, reason, s.now())
	})
	if err != nil {
		return nil, fmt.Errorf("audit re-issue: %w", err)
	}
	return res, nil
}

// reissueOne issues one order of a batch and says what became of it.
func (s *Service) reissueOne(ctx context.Context, in IssueInput, settled map[string]*ent.RewardOrder) ReissueOrderResult {
	orderNo := OrderNo(in.ActID, in.SceneID, in.RainID, in.AwardType, in.Stage)
	fail := func(err error) ReissueOrderResult {
		code := errs.CodeOf(err)
		msg := err.Error()
		var e *errs.Error
		if !errors.As(err, &e) {
			// Unexpected errors are logged here and shown to operators without internals.
			s.log.Error("re-issue order", "order", orderNo, "err", err)
			msg = "internal error"
		}
		return ReissueOrderResult{OrderNo: orderNo, Outcome: ReissueFailed, Code: code, Message: msg}
	}
	if err := in.validate(); err != nil {
		return fail(err)
	}
	if live, err := s.catalog.Resolve(ctx, in.ActivityID, s.now()); err == nil {
		if row := settled[live.ID+"\x00"+orderNo]; row != nil {
			o := Order{ActID: row.ActID, AppID: row.AppID, SceneID: row.SceneID, RainID: row.RainID, AwardType: row.AwardType,
				Stage: row.Stage, Amount: row.Amount}
			want := Order{ActID: in.ActID, AppID: in.AppID, SceneID: in.SceneID, RainID: in.RainID, AwardType: in.AwardType,
				Stage: in.Stage, Amount: in.Amount}
			if o.content() != want.content() {
				return fail(errs.E(errs.IdempotencyConflict, "order %s was already issued with other content", orderNo))
			}
			return ReissueOrderResult{OrderNo: orderNo, Outcome: ReissueReplayed, Status: StatusSettled}
		}
	}
	// Everything else, a closed or unknown activity included, answers as issueReward does.
	r, err := s.Issue(ctx, in)
	if err != nil {
		return fail(err)
	}
	out := ReissueOrderResult{OrderNo: r.OrderNo, Outcome: ReissueAccepted, Status: r.Status}
	if r.Replayed {
		out.Outcome = ReissueReplayed
	}
	return out
}

// settledOrders reads the batch's orders that the database already holds, keyed by the live
// child activity and the order number: one query per activity the batch names.
func (s *Service) settledOrders(ctx context.Context, orders []IssueInput) (map[string]*ent.RewardOrder, error) {
	now := s.now()
	byActivity := map[string][]string{}
	for _, in := range orders {
		if in.validate() != nil {
			continue
		}
		live, err := s.catalog.Resolve(ctx, in.ActivityID, now)
		if err != nil {
			continue // answered per order by Issue
		}
		byActivity[live.ID] = append(byActivity[live.ID], OrderNo(in.ActID, in.SceneID, in.RainID, in.AwardType, in.Stage))
	}
	out := map[string]*ent.RewardOrder{}
	for act, nos := range byActivity {
		rows, err := s.db.R.RewardOrder.Query().Where(rewardorder.ActivityID(act), rewardorder.OrderNoIn(nos...)).
			Select(rewardorder.FieldOrderNo, rewardorder.FieldActID, rewardorder.FieldAppID, rewardorder.FieldSceneID, rewardorder.FieldRainID,
				rewardorder.FieldAwardType, rewardorder.FieldStage, rewardorder.FieldAmount).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("find settled orders: %w", err)
		}
		for _, r := range rows {
			out[act+"\x00"+r.OrderNo] = r
		}
	}
	return out, nil
}
