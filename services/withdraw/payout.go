package withdraw

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

// PayoutRequest is what a payout provider is asked to pay. ID is the withdrawal id, the
// provider's idempotency key: asking twice pays once.
type PayoutRequest struct {
	ID     string
	ActID  int64
	Amount int64
}

// PayoutProvider pays withdrawals out of the platform (to a bank card, a payment app).
type PayoutProvider interface {
	// Pay returns nil when paid, an error wrapping ErrPayoutRejected when the payout will
	// never succeed, any other error when it may succeed on a retry.
	Pay(ctx context.Context, req PayoutRequest) error
}

// ErrPayoutRejected marks a final refusal by the provider.
var ErrPayoutRejected = errors.New("payout rejected")

// SimulatedProvider is the built-in provider: it pays after Latency and rejects a
// FailureRate share of payouts, remembering each answer so a retry gets the same one.
type SimulatedProvider struct {
	Latency     time.Duration
	FailureRate float64
	mu          sync.Mutex
	answers     map[string]error
	paid        map[string]int64
}

// NewSimulatedProvider returns a provider with the given latency and failure rate.
func NewSimulatedProvider(latency time.Duration, failureRate float64) *SimulatedProvider {
	return &SimulatedProvider{Latency: latency, FailureRate: failureRate, answers: map[string]error{}, paid: map[string]int64{}}
}

// Pay implements PayoutProvider.
func (p *SimulatedProvider) Pay(ctx context.Context, req PayoutRequest) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(p.Latency):
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err, ok := p.answers[req.ID]; ok {
		return err
	}
	var err error
	if rand.Float64() < p.FailureRate {
		err = fmt.Errorf("%w: simulated refusal", ErrPayoutRejected)
	} else {
		p.paid[req.ID] = req.Amount
	}
	p.answers[req.ID] = err
	return err
}

// Paid returns how much the provider paid for a withdrawal (tests use it to prove nothing is
// paid twice).
func (p *SimulatedProvider) Paid(id string) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.paid[id]
	return v, ok
}

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
	// MaxAttempts is how many transient failures a payout survives before it fails.
	MaxAttempts int
	// BreakerOpenFor is how long the payout breaker, once open, waits before a trial payout.
	BreakerOpenFor time.Duration
}

// DefaultPayoutConfig pays 50 withdrawals a second with 8 in flight per instance.
func DefaultPayoutConfig() PayoutConfig {
	return PayoutConfig{Rate: 50, Concurrency: 8, Poll: 250 * time.Millisecond, ClaimTTL: 30 * time.Second, MaxAttempts: 5,
		BreakerOpenFor: 5 * time.Second}
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
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = def.MaxAttempts
	}
	if c.BreakerOpenFor <= 0 {
		c.BreakerOpenFor = def.BreakerOpenFor
	}
	return c
}

// payoutBreaker opens after 5 provider failures in a row; refusals are answers, not failures.
func (s *Service) payoutBreaker() breaker.Settings {
	return breaker.Settings{ConsecutiveFailures: 5, OpenFor: s.cfg.Payout.BreakerOpenFor,
		IsFailure: func(err error) bool { return !errors.Is(err, ErrPayoutRejected) }}
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

// payOne asks the provider to pay one claimed withdrawal and records the outcome.
func (s *Service) payOne(ctx context.Context, w *ent.Withdrawal) {
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err := s.breakers.Do("payout", s.payoutBreaker(), func() error {
		return s.provider.Pay(pctx, PayoutRequest{ID: w.ID, ActID: w.ActID, Amount: w.Amount})
	})
	cancel()
	switch {
	case errors.Is(err, breaker.ErrOpen):
		// The provider is down: wait for the breaker without spending one of the attempts.
		err = s.db.WriteTx(ctx, func(tx *ent.Tx) error {
			return tx.Withdrawal.UpdateOneID(w.ID).ClearClaimedUntil().AddAttempts(-1).
				SetNextAttemptAt(store.Time(s.now().Add(s.cfg.Payout.BreakerOpenFor))).Exec(ctx)
		})
	case err == nil:
		err = s.finishPayout(ctx, w, true, "")
	case errors.Is(err, ErrPayoutRejected) || w.Attempts >= s.cfg.Payout.MaxAttempts:
		err = s.finishPayout(ctx, w, false, err.Error())
	default:
		backoff := time.Duration(1<<min(w.Attempts, 6)) * time.Second
		err = s.db.WriteTx(ctx, func(tx *ent.Tx) error {
			return tx.Withdrawal.UpdateOneID(w.ID).ClearClaimedUntil().SetNextAttemptAt(store.Time(s.now().Add(backoff))).Exec(ctx)
		})
	}
	if err != nil {
		// The claim expires and another attempt asks the provider again, which answers the
		// same for the same withdrawal id.
		s.log.Error("record payout outcome", "withdrawal", w.ID, "err", err)
	}
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
			SetStatus(status).SetFailureReason(reason).ClearClaimedUntil().Save(ctx)
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
