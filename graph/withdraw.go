package graph

import (
	"context"

	"github.com/springwallet/wallet/graph/model"
	"github.com/springwallet/wallet/services/withdraw"
)

func withdrawalModel(w *withdraw.Withdrawal) *model.Withdrawal {
	return &model.Withdrawal{ID: w.ID, Amount: w.Amount, Status: model.WithdrawalStatus(w.Status), CreatedAt: w.CreatedAt}
}

func (r *Resolver) withdraw(ctx context.Context, input model.WithdrawInput) (*model.WithdrawPayload, error) {
	p, live, err := r.callerIn(ctx, input.ActivityID)
	if err != nil {
		return nil, err
	}
	w, replayed, err := r.withdrawals.Withdraw(ctx, withdraw.Input{Live: live, ActID: p.ActID, Amount: input.Amount, RequestID: input.RequestID})
	if err != nil {
		return nil, err
	}
	wm, err := r.liveWallet(ctx, live, p.ActID)
	if err != nil {
		return nil, err
	}
	return &model.WithdrawPayload{Withdrawal: withdrawalModel(w), Wallet: wm, Replayed: replayed}, nil
}

func (r *Resolver) withdrawal(ctx context.Context, id string) (*model.Withdrawal, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	w, err := r.withdrawals.Get(ctx, p.ActID, id)
	if err != nil || w == nil {
		return nil, err
	}
	return withdrawalModel(w), nil
}
