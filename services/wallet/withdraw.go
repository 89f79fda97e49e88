package wallet

import (
	"context"
	"fmt"
	"time"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/withdrawal"
	"github.com/springwallet/wallet/services/errs"
)

// WithdrawLimits bound withdrawals, in fen.
type WithdrawLimits struct {
	Min, Max, Daily int64
	// Day is the time zone whose calendar day the daily limit counts.
	Day *time.Location
}

// DefaultWithdrawLimits are the contract's defaults: 10 to 500,000 fen a withdrawal and
// 1,000,000 fen a day, days counted in China Standard Time.
func DefaultWithdrawLimits() WithdrawLimits {
	return WithdrawLimits{Min: 10, Max: 500_000, Daily: 1_000_000, Day: time.FixedZone("CST", 8*3600)}
}

// Withdrawal statuses.
const (
	WithdrawalProcessing = "PROCESSING"
	WithdrawalSucceeded  = "SUCCEEDED"
	WithdrawalFailed     = "FAILED"
)

// Withdrawal is money on its way out of a wallet.
type Withdrawal struct {
	ID, ActivityID string
	ActID, Amount  int64
	Status         string
	FailureReason  string
	CreatedAt      time.Time
}

func withdrawalFrom(w *ent.Withdrawal) *Withdrawal {
	return &Withdrawal{ID: w.ID, ActivityID: w.ActivityID, ActID: w.ActID, Amount: w.Amount, Status: string(w.Status),
		FailureReason: w.FailureReason, CreatedAt: w.CreatedAt}
}

// WithdrawInput is one withdrawal request; ActivityID is the live child activity.
type WithdrawInput struct {
	ActivityID string
	ActID      int64
	Amount     int64
	RequestID  string
}

// SwitchWithdraw is the switch that turns withdrawals off (DEGRADED).
const SwitchWithdraw = "withdraw"

func validRequestID(id string) error {
	if len(id) < 1 || len(id) > 64 {
		return errs.Input("requestId", "requestId must be 1..64 characters")
	}
	return nil
}

// Withdraw takes money out of the caller's wallet. Checks run in the contract's order: the
// switch (DEGRADED), then the limits (LIMIT_EXCEEDED), then the balance (INSUFFICIENT_BALANCE).
// Pending rewards are settled first; the debit is one conditional update in the same
// transaction that records the withdrawal, so concurrent withdrawals cannot overdraw. The
// same requestId replays the first withdrawal.
func (s *Service) Withdraw(ctx context.Context, in WithdrawInput) (*Withdrawal, bool, error) {
	if !s.switches.Enabled(SwitchWithdraw) {
		return nil, false, errs.E(errs.Degraded, "withdrawals are paused; please try again later")
	}
	if err := validRequestID(in.RequestID); err != nil {
		return nil, false, err
	}
	if in.Amount <= 0 {
		return nil, false, errs.Input("amount", "amount must be positive")
	}
	if w, err := s.findWithdrawal(ctx, s.db.R, in); err != nil || w != nil {
		return w, w != nil, err
	}
	lim := s.limits
	if in.Amount < lim.Min {
		return nil, false, errs.E(errs.LimitExceeded, "the smallest withdrawal is %d fen", lim.Min)
	}
	if in.Amount > lim.Max {
		return nil, false, errs.E(errs.LimitExceeded, "the largest withdrawal is %d fen", lim.Max)
	}
	if _, err := s.ForceSettle(ctx, in.ActivityID, in.ActID); err != nil {
		return nil, false, fmt.Errorf("settle before withdrawal: %w", err)
	}
	var out *Withdrawal
	replayed := false
	// Once the debit is under way it is finished even if the client goes away.
	ctx = context.WithoutCancel(ctx)
	err := s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		out, replayed = nil, false
		if err := lockAccount(ctx, tx, s.db.Dialect, in.ActID); err != nil {
			return err
		}
		// A concurrent request with the same requestId may have won the race.
		w, err := s.findWithdrawal(ctx, tx.Client(), in)
		if err != nil {
			return err
		}
		if w != nil {
			out, replayed = w, true
			return nil
		}
		now := dbTime(s.now())
		y, m, d := now.In(lim.Day).Date()
		dayStart := time.Date(y, m, d, 0, 0, 0, 0, lim.Day)
		var today []struct {
			Sum int64 `json:"sum"`
		}
		err = tx.Withdrawal.Query().
			Where(withdrawal.ActID(in.ActID), withdrawal.CreatedAtGTE(dbTime(dayStart)), withdrawal.StatusNEQ(withdrawal.StatusFAILED)).
			Aggregate(ent.As(ent.Sum(withdrawal.FieldAmount), "sum")).Scan(ctx, &today)
		if err != nil {
			return fmt.Errorf("sum today's withdrawals: %w", err)
		}
		if len(today) > 0 && today[0].Sum+in.Amount > lim.Daily {
			return errs.E(errs.LimitExceeded, "the daily withdrawal limit is %d fen; %d fen left today", lim.Daily, max(0, lim.Daily-today[0].Sum))
		}
		if err := debit(ctx, tx, in.ActivityID, in.ActID, in.Amount); err != nil {
			return err
		}
		id := newID("wd", now)
		row, err := tx.Withdrawal.Create().SetID(id).SetActivityID(in.ActivityID).SetActID(in.ActID).SetRequestID(in.RequestID).
			SetAmount(in.Amount).SetCreatedAt(now).SetNextAttemptAt(now).Save(ctx)
		if err != nil {
			return fmt.Errorf("record withdrawal: %w", err)
		}
		if err := post(ctx, tx, "withdraw:"+id, in.ActivityID, KindWithdrawal, id, now,
			UserLeg(in.ActID, -in.Amount), Leg{Account: AccountPayoutClearing, Amount: in.Amount}); err != nil {
			return err
		}
		out = withdrawalFrom(row)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if !replayed {
		s.payoutKick()
	}
	return out, replayed, nil
}

// findWithdrawal returns the withdrawal with in's requestId, nil when there is none, or
// IDEMPOTENCY_CONFLICT when that requestId was used for another amount.
func (s *Service) findWithdrawal(ctx context.Context, c *ent.Client, in WithdrawInput) (*Withdrawal, error) {
	w, err := c.Withdrawal.Query().Where(withdrawal.ActivityID(in.ActivityID), withdrawal.ActID(in.ActID), withdrawal.RequestID(in.RequestID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find withdrawal: %w", err)
	}
	if w.Amount != in.Amount {
		return nil, errs.E(errs.IdempotencyConflict, "requestId %s was already used for a withdrawal of %d fen", in.RequestID, w.Amount)
	}
	return withdrawalFrom(w), nil
}

// GetWithdrawal returns one of actID's withdrawals, or nil when it does not exist or belongs
// to someone else (the two are indistinguishable to the caller on purpose).
func (s *Service) GetWithdrawal(ctx context.Context, actID int64, id string) (*Withdrawal, error) {
	w, err := s.db.R.Withdrawal.Query().Where(withdrawal.ID(id), withdrawal.ActID(actID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get withdrawal: %w", err)
	}
	return withdrawalFrom(w), nil
}
