package wallet

import (
	"context"
	"fmt"

	"github.com/springwallet/wallet/ent/rewardorder"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/switches"
)

// RedeemResult is what redeeming a token answers.
type RedeemResult struct {
	OrderNo  string
	Replayed bool
	Status   string
}

// Redeem takes back a red-packet token a client holds. A token the server still knows (in
// Redis, settled in the database, or journaled) is a replay; a valid one it has lost (Redis
// data gone) is restored as pending and settled like any other, and never paid twice because
// settlement is idempotent on the order number. onlyActID, when non-zero, is the only account
// whose tokens the caller may redeem.
//
// What a restored token does to the budget depends on whether the database knew its order.
// Journaled, it was charged at issuance and is in the counters (those that survived, and those
// rebuilt from the database after the loss): it is not charged again. Unknown to the database
// (its issuing instance died before its journal write while Redis lost its data), no counter
// holds it, so it is charged now, past the limit if need be: the token was promised.
func (s *Service) Redeem(ctx context.Context, tok string, onlyActID int64) (*RedeemResult, error) {
	if !s.switches.Enabled(switches.Redeem) {
		return nil, Degraded("token redemption")
	}
	if tok == "" {
		return nil, errs.Input("token", "token is required")
	}
	p, err := s.signer.Verify(tok)
	if err != nil {
		return nil, err
	}
	if onlyActID != 0 && p.ActID != onlyActID {
		return nil, errs.E(errs.Forbidden, "this token belongs to another account")
	}
	actID, sceneID, rainID, awardType, stage, err := ParseOrderNo(p.OutTradeNo)
	if err != nil || actID != p.ActID || sceneID != p.SceneID || int64(rainID) != p.RainID || awardType != AwardCash {
		return nil, errs.Input("token", "the token's order number does not match its content")
	}
	a, sc, err := s.sceneOf(ctx, p.ActivityID, p.SceneID)
	if err != nil {
		return nil, err
	}
	o := Order{
		OrderNo: p.OutTradeNo, ActivityID: p.ActivityID, ActID: p.ActID, AppID: int(p.AppID), SceneID: p.SceneID,
		RainID: rainID, AwardType: awardType, Stage: stage, Amount: p.Amount, IssuedAtMs: p.OpenTime * 1000, Token: tok,
	}
	// Settled long ago (its Redis record may have expired): the database remembers.
	settled, err := s.db.R.RewardOrder.Query().Where(rewardorder.ActivityID(o.ActivityID), rewardorder.OrderNo(o.OrderNo)).Exist(ctx)
	if err != nil {
		return nil, fmt.Errorf("find order: %w", err)
	}
	if settled {
		return &RedeemResult{OrderNo: o.OrderNo, Replayed: true, Status: StatusSettled}, nil
	}
	h := s.hold()
	defer h.done()
	acc, err := s.accept(ctx, o, a, false, true, nil, h)
	if err != nil {
		return nil, err
	}
	if acc.fresh {
		if err := s.reserve(ctx, a, sc, o.Amount, true, h); err != nil {
			s.log.Warn("charge restored reward to budget", "order", o.OrderNo, "err", err)
		}
	}
	res := acc.res
	// For the client, a token Redis had lost and now holds again is restored, not replayed.
	return &RedeemResult{OrderNo: o.OrderNo, Replayed: res.Replayed && !acc.restored, Status: res.Status}, nil
}

// sceneOf looks up an activity by its own id and one of its scenes.
func (s *Service) sceneOf(ctx context.Context, activityID, sceneID string) (*activity.Activity, *activity.Scene, error) {
	a, err := s.catalog.Lookup(ctx, activityID)
	if err != nil {
		return nil, nil, err
	}
	sc, err := s.catalog.Scene(ctx, a, sceneID)
	if err != nil {
		return nil, nil, err
	}
	return a, sc, nil
}
