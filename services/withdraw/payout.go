package withdraw

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/withdrawal"
	"github.com/springwallet/wallet/services/breaker"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/lifecycle"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
)

// PayoutConfig paces the payout worker: a burst of withdrawals is accepted at once and paid at
// the provider's pace.
type PayoutConfig struct {
	// Rate is the most payouts started per second by one instance.
	Rate int
	// Concurrency is how many payouts one instance has in flight.
	Concurrency int
	// Poll is how often the queue is checked when nothing woke the worker.
	Poll time.Duration
	// ClaimTTL is how long a claimed withdrawal is left to its worker before another may
	// take it (the first is presumed dead).
	ClaimTTL time.Duration
	// CallTimeout bounds one call to the provider; a call cut off by it has an unknown
	// outcome (the provider may have paid), resolved later by a status lookup.
	CallTimeout time.Duration
	// InDoubtAfter is how long an unknown outcome may last before operators are shown it
	// (payoutsInDoubt, wallet_payouts_in_doubt).
	InDoubtAfter time.Duration
	// BreakerOpenFor is how long the payout breaker, once open, waits before a trial payout.
	BreakerOpenFor time.Duration
}

// DefaultPayoutConfig pays 50 withdrawals a second with 8 in flight per instance.
func DefaultPayoutConfig() PayoutConfig {
	return PayoutConfig{Rate: 50, Concurrency: 8, Poll: 250 * time.Millisecond, ClaimTTL: 30 * time.Second,
		BreakerOpenFor: 5 * time.Second, CallTimeout: 15 * time.Second, InDoubtAfter: 5 * time.Minute}
}

// withDefaults fills the zero fields of c from DefaultPayoutConfig, so a config that sets one
// field cannot leave the worker with a zero ticker or no workers.
func (c PayoutConfig) withDefaults() PayoutConfig {
	def := DefaultPayoutConfig()
	if c.Rate <= 0 {
		c.Rate = def.Rate
	}
	if c.Concurrency <= 0 {
		c.Concurrency = def.Concurrency
	}
	if c.Poll <= 0 {
		c.Poll = def.Poll
	}
	if c.ClaimTTL <= 0 {
		c.ClaimTTL = def.ClaimTTL
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = def.CallTimeout
	}
	if c.InDoubtAfter <= 0 {
		c.InDoubtAfter = def.InDoubtAfter
	}
	if c.BreakerOpenFor <= 0 {
		c.BreakerOpenFor = def.BreakerOpenFor
	}
	return c
}

// payoutBreaker opens after 5 provider failures in a row (refusals are answers, not
// failures, and never reach it as errors).
func (s *Service) payoutBreaker() breaker.Settings {
	return breaker.Settings{ConsecutiveFailures: 5, OpenFor: s.cfg.Payout.BreakerOpenFor}
}

func (s *Service) payoutKick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Payouts is the payout worker.
type Payouts struct{ s *Service }

// Payouts returns the worker that pays PROCESSING withdrawals through the provider.
func (s *Service) Payouts() *Payouts { return &Payouts{s: s} }

// Run pays until ctx ends, then lets the payouts in flight finish. Several instances may run
// it: a withdrawal is claimed by a conditional update before it is paid, and its final state
// is written by another conditional update, so each is finished exactly once.
func (p *Payouts) Run(ctx context.Context) error {
	s := p.s
	cfg := s.cfg.Payout
	jobs := make(chan *ent.Withdrawal)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range jobs {
				// A payout asked for is seen through, shutdown or not, within its deadline.
				pctx, cancel := lifecycle.Detach(ctx, payoutDeadline)
				s.payOne(pctx, w)
				cancel()
			}
		}()
	}
	defer func() { close(jobs); wg.Wait() }()
	pace := time.NewTicker(time.Second / time.Duration(cfg.Rate))
	defer pace.Stop()
	poll := time.NewTicker(cfg.Poll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		case <-s.kick:
		}
		if !s.switches.Enabled(switches.PayoutWorker) {
			continue
		}
		for ctx.Err() == nil {
			w, err := s.claimPayout(ctx)
			if err != nil {
				s.log.Warn("claim payout", "err", err)
				break
			}
			if w == nil {
				break
			}
			select {
			case <-ctx.Done():
				rctx, cancel := lifecycle.Detach(ctx, 5*time.Second)
				s.releaseClaim(rctx, w.ID)
				cancel()
				return nil
			case <-pace.C:
			}
			jobs <- w
		}
	}
}

// payoutDeadline bounds one payout: the provider call (15 s) and recording its outcome.
const payoutDeadline = 30 * time.Second

// claimPayout takes the oldest due withdrawal nobody holds.
func (s *Service) claimPayout(ctx context.Context) (*ent.Withdrawal, error) {
	now := store.Time(s.now())
	due, err := s.db.R.Withdrawal.Query().
		Where(withdrawal.StatusEQ(withdrawal.StatusPROCESSING), withdrawal.NextAttemptAtLTE(now),
			withdrawal.Or(withdrawal.ClaimedUntilIsNil(), withdrawal.ClaimedUntilLT(now))).
		Order(ent.Asc(withdrawal.FieldNextAttemptAt)).Limit(8).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("find due payouts: %w", err)
	}
	for _, w := range due {
		var claimed int
		err := s.db.WriteTx(ctx, func(tx *ent.Tx) error {
			var err error
			claimed, err = tx.Withdrawal.Update().
				Where(withdrawal.ID(w.ID), withdrawal.StatusEQ(withdrawal.StatusPROCESSING),
					withdrawal.Or(withdrawal.ClaimedUntilIsNil(), withdrawal.ClaimedUntilLT(now))).
				SetClaimedUntil(now.Add(s.cfg.Payout.ClaimTTL)).AddAttempts(1).Save(ctx)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("claim payout: %w", err)
		}
		if claimed == 1 {
			w.Attempts++
			return w, nil
		}
	}
	return nil, nil
}

func (s *Service) releaseClaim(ctx context.Context, id string) {
	_ = s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		return tx.Withdrawal.UpdateOneID(id).ClearClaimedUntil().AddAttempts(-1).Exec(ctx)
	})
}

// payOne pays one claimed withdrawal and records the outcome. A withdrawal asked for before
// (an earlier attempt's outcome was unknown, or its worker died mid-call) is looked up first
// and paid again only when the provider never received it. Only a definite refusal refunds;
// a timeout or a transport error leaves the withdrawal PROCESSING with its outcome unknown.
func (s *Service) payOne(ctx context.Context, w *ent.Withdrawal) {
	var err error
	status := PayoutUnknown
	if w.OutcomeUnknownSince != nil || w.Attempts > 1 {
		status, err = s.callProvider(ctx, func(ctx context.Context) (PayoutStatus, error) { return s.provider.Status(ctx, w.ID) })
	}
	if err == nil && status == PayoutUnknown {
		status, err = s.callProvider(ctx, func(ctx context.Context) (PayoutStatus, error) {
			switch err := s.provider.Pay(ctx, PayoutRequest{ID: w.ID, ActID: w.ActID, Amount: w.Amount}); {
			case err == nil:
				return PayoutPaid, nil
			case errors.Is(err, ErrPayoutRejected):
				return PayoutRejected, nil
			default:
				return PayoutUnknown, err
			}
		})
	}
	switch {
	case errors.Is(err, breaker.ErrOpen):
		// The provider is down: wait for the breaker without spending an attempt.
		err = s.db.WriteTx(ctx, func(tx *ent.Tx) error {
			return tx.Withdrawal.UpdateOneID(w.ID).ClearClaimedUntil().AddAttempts(-1).
				SetNextAttemptAt(store.Time(s.now().Add(s.cfg.Payout.BreakerOpenFor))).Exec(ctx)
		})
	case err != nil || status == PayoutPending:
		// Outcome unknown (or still being decided): ask again later, never refund on it.
		reason := "pending at the provider"
		if err != nil {
			reason = err.Error()
			s.log.Warn("payout outcome unknown", "withdrawal", w.ID, "attempt", w.Attempts, "err", err)
		}
		err = s.markUnknown(ctx, w, reason)
	case status == PayoutPaid:
		err = s.finishPayout(ctx, w, true, "")
	case status == PayoutRejected:
		err = s.finishPayout(ctx, w, false, "refused by the payout provider")
	}
	if err != nil {
		// The claim expires and another attempt looks the payout up again.
		s.log.Error("record payout outcome", "withdrawal", w.ID, "err", err)
	}
}

// callProvider runs one provider call under the call timeout and the payout breaker. An
// error means the outcome is unknown (a refusal is an answer, not an error).
func (s *Service) callProvider(ctx context.Context, call func(context.Context) (PayoutStatus, error)) (PayoutStatus, error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Payout.CallTimeout)
	defer cancel()
	status := PayoutUnknown
	err := s.breakers.Do("payout", s.payoutBreaker(), func() error {
		var err error
		status, err = call(cctx)
		return err
	})
	return status, err
}

// markUnknown records that a payout's outcome is not known yet and schedules the next look,
// backing off up to a minute.
func (s *Service) markUnknown(ctx context.Context, w *ent.Withdrawal, reason string) error {
	now := s.now()
	backoff := min(time.Duration(1<<min(w.Attempts, 6))*time.Second, time.Minute)
	return s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		u := tx.Withdrawal.Update().Where(withdrawal.ID(w.ID), withdrawal.StatusEQ(withdrawal.StatusPROCESSING)).
			ClearClaimedUntil().SetNextAttemptAt(store.Time(now.Add(backoff))).SetFailureReason(reason)
		if w.OutcomeUnknownSince == nil {
			u.SetOutcomeUnknownSince(store.Time(now))
		}
		return u.Exec(ctx)
	})
}

// finishPayout moves a withdrawal to SUCCEEDED (clearing → paid out) or FAILED (clearing →
// back to the user, a compensating entry), once.
func (s *Service) finishPayout(ctx context.Context, w *ent.Withdrawal, ok bool, reason string) error {
	return s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		status := withdrawal.StatusSUCCEEDED
		if !ok {
			status = withdrawal.StatusFAILED
		}
		n, err := tx.Withdrawal.Update().Where(withdrawal.ID(w.ID), withdrawal.StatusEQ(withdrawal.StatusPROCESSING)).
			SetStatus(status).SetFailureReason(reason).ClearClaimedUntil().ClearOutcomeUnknownSince().Save(ctx)
		if err != nil {
			return fmt.Errorf("finish withdrawal: %w", err)
		}
		if n == 0 {
			return nil // finished already
		}
		now := store.Time(s.now())
		if ok {
			return ledger.Post(ctx, tx, ledger.Txn{ID: "payout:" + w.ID, ActivityID: w.ActivityID, Kind: ledger.KindWithdrawalPaid, Ref: w.ID, At: now,
				Legs: []ledger.Leg{ledger.System(ledger.PayoutClearing, -w.Amount), ledger.System(ledger.PaidOut, w.Amount)}})
		}
		// The user leg credits the balance back; a refund is not income.
		return ledger.Post(ctx, tx, ledger.Txn{ID: "payout-failed:" + w.ID, ActivityID: w.ActivityID, Kind: ledger.KindWithdrawalRefund, Ref: w.ID, At: now,
			Legs: []ledger.Leg{ledger.System(ledger.PayoutClearing, -w.Amount), ledger.User(w.ActID, w.Amount)}})
	})
}
