package withdraw

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/simulatedpayout"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/store"
)

// PayoutRequest is what a payout provider is asked to pay. ID is the withdrawal id, the
// provider's idempotency key: asking twice pays once.
type PayoutRequest struct {
	ID     string
	ActID  int64
	Amount int64
}

// PayoutStatus is what a provider says became of a payout it was asked for.
type PayoutStatus int

// Payout statuses.
const (
	// PayoutUnknown: the provider never received a request with this id; asking again is safe.
	PayoutUnknown PayoutStatus = iota
	// PayoutPending: received, not decided yet.
	PayoutPending
	// PayoutPaid: the money left.
	PayoutPaid
	// PayoutRejected: refused for good; the money never left.
	PayoutRejected
)

func (s PayoutStatus) String() string {
	return [...]string{"UNKNOWN", "PENDING", "PAID", "REJECTED"}[s]
}

// PayoutProvider pays withdrawals out of the platform (to a bank card, a payment app).
type PayoutProvider interface {
	// Pay returns nil when paid, an error wrapping ErrPayoutRejected when the payout will
	// never succeed, and any other error (a timeout, a transport error) when the outcome is
	// unknown: the provider may have paid, so only Status can tell.
	Pay(ctx context.Context, req PayoutRequest) error
	// Status looks up what became of the payout with this idempotency key.
	Status(ctx context.Context, id string) (PayoutStatus, error)
}

// ErrPayoutRejected marks a final refusal by the provider.
var ErrPayoutRejected = errors.New("payout rejected")

// SimulatedProvider is the built-in provider. It behaves like a real one: a payout it received
// is decided Latency later whether or not the caller is still waiting (a caller that gives up
// first sees a timeout, and the payment happens anyway), a FailureRate share is refused, each
// id is paid at most once, and Status answers truthfully. It keeps its records in the
// database, so every instance and every restart sees the same answers.
type SimulatedProvider struct {
	db          *store.DB
	latency     time.Duration
	failureRate float64
	now         func() time.Time
}

// NewSimulatedProvider returns a provider that decides payouts latency after it receives
// them, refusing a failureRate share.
func NewSimulatedProvider(db *store.DB, latency time.Duration, failureRate float64, now func() time.Time) *SimulatedProvider {
	return &SimulatedProvider{db: db, latency: latency, failureRate: failureRate, now: now}
}

// simPoll is how often a waiting Pay looks for its decision.
const simPoll = 10 * time.Millisecond

// Pay implements PayoutProvider.
func (p *SimulatedProvider) Pay(ctx context.Context, req PayoutRequest) error {
	now := store.Time(p.now())
	err := p.db.WriteTx(ctx, func(tx *ent.Tx) error {
		return tx.SimulatedPayout.Create().SetID(req.ID).SetAmount(req.Amount).SetReceivedAt(now).
			SetDueAt(now.Add(p.latency)).OnConflictColumns(simulatedpayout.FieldID).DoNothing().Exec(ctx)
	})
	if err != nil && !ledger.IsNoRows(err) {
		return fmt.Errorf("simulated provider: %w", err)
	}
	for {
		st, err := p.decide(ctx, req.ID)
		switch {
		case err != nil:
			return err
		case st == PayoutPaid:
			return nil
		case st == PayoutRejected:
			return fmt.Errorf("%w: simulated refusal", ErrPayoutRejected)
		}
		t := time.NewTimer(simPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err() // the caller gave up; the payout is decided anyway
		case <-t.C:
		}
	}
}

// Status implements PayoutProvider.
func (p *SimulatedProvider) Status(ctx context.Context, id string) (PayoutStatus, error) {
	return p.decide(ctx, id)
}

// decide answers a payout's status, deciding it first once it is due: the provider's clock
// runs whether anyone asks or not, so a payout is settled by the first look after its due time.
func (p *SimulatedProvider) decide(ctx context.Context, id string) (PayoutStatus, error) {
	row, err := p.db.R.SimulatedPayout.Get(ctx, id)
	if ent.IsNotFound(err) {
		return PayoutUnknown, nil
	}
	if err != nil {
		return PayoutUnknown, fmt.Errorf("simulated provider: %w", err)
	}
	if row.Status != simulatedpayout.StatusPENDING {
		return statusOf(row.Status), nil
	}
	now := store.Time(p.now())
	if now.Before(row.DueAt) {
		return PayoutPending, nil
	}
	outcome := simulatedpayout.StatusPAID
	if rand.Float64() < p.failureRate {
		outcome = simulatedpayout.StatusREJECTED
	}
	// Conditional: when two look at once, the first decision stands.
	err = p.db.WriteTx(ctx, func(tx *ent.Tx) error {
		return tx.SimulatedPayout.Update().Where(simulatedpayout.ID(id), simulatedpayout.StatusEQ(simulatedpayout.StatusPENDING)).
			SetStatus(outcome).SetDecidedAt(now).Exec(ctx)
	})
	if err != nil {
		return PayoutUnknown, fmt.Errorf("simulated provider: %w", err)
	}
	if row, err = p.db.R.SimulatedPayout.Get(ctx, id); err != nil {
		return PayoutUnknown, fmt.Errorf("simulated provider: %w", err)
	}
	return statusOf(row.Status), nil
}

func statusOf(s simulatedpayout.Status) PayoutStatus {
	switch s {
	case simulatedpayout.StatusPAID:
		return PayoutPaid
	case simulatedpayout.StatusREJECTED:
		return PayoutRejected
	}
	return PayoutPending
}

// Paid returns how much the provider paid for a withdrawal (tests use it to prove nothing is
// paid twice).
func (p *SimulatedProvider) Paid(ctx context.Context, id string) (int64, bool) {
	row, err := p.db.R.SimulatedPayout.Get(ctx, id)
	if err != nil || row.Status != simulatedpayout.StatusPAID {
		return 0, false
	}
	return row.Amount, true
}
