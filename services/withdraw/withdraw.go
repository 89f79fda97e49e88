// Package withdraw takes money out of wallets: withdrawals (limits, idempotency, the
// conditional debit) and the payout worker that pays them through a payout provider, with
// their ledger transactions posted through services/ledger.
package withdraw

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/withdrawal"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/breaker"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/lifecycle"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/wallet"
	"github.com/springwallet/wallet/services/wiring"
)

// Settler settles an account's pending rewards, so everything the wallet shows can be
// withdrawn (the reward core implements it).
type Settler interface {
	ForceSettle(ctx context.Context, live *activity.Live, actID int64) (wallet.SettleResult, error)
}

// Config holds the withdrawals' tunables.
type Config struct {
	Limits Limits
	Payout PayoutConfig
	// DebitTimeout bounds a withdrawal's transaction once begun: it outlives the request, not
	// forever.
	DebitTimeout time.Duration
}

// DefaultConfig is what the server runs with.
func DefaultConfig() Config {
	return Config{Limits: DefaultLimits(), Payout: DefaultPayoutConfig(), DebitTimeout: 15 * time.Second}
}

// Deps is everything withdrawals need; every field is required.
type Deps struct {
	DB       *store.DB
	Settler  Settler
	Switches switches.Reader
	Breakers *breaker.Registry
	Provider PayoutProvider
	Now      func() time.Time
	Log      *slog.Logger
	Config   Config
}

// Service accepts withdrawals and pays them out.
type Service struct {
	db       *store.DB
	settler  Settler
	switches switches.Reader
	breakers *breaker.Registry
	provider PayoutProvider
	now      func() time.Time
	log      *slog.Logger
	cfg      Config
	// kick wakes this instance's payout worker when a withdrawal is recorded.
	kick chan struct{}
}

// New returns the withdrawal service, or an error naming the first missing dependency.
func New(d Deps) (*Service, error) {
	if err := wiring.Require("withdraw.New", d); err != nil {
		return nil, err
	}
	cfg, def := d.Config, DefaultConfig()
	if cfg.Limits.Day == nil {
		cfg.Limits = def.Limits
	}
	cfg.Payout = cfg.Payout.withDefaults()
	if cfg.DebitTimeout <= 0 {
		cfg.DebitTimeout = def.DebitTimeout
	}
	return &Service{db: d.DB, settler: d.Settler, switches: d.Switches, breakers: d.Breakers, provider: d.Provider,
		now: d.Now, log: d.Log, cfg: cfg, kick: make(chan struct{}, 1)}, nil
}

// Limits bound withdrawals, in fen.
type Limits struct {
	Min, Max, Daily int64
	// Day is the time zone whose calendar day the daily limit counts.
	Day *time.Location
}

// DefaultLimits are the contract's defaults: 10 to 500,000 fen a withdrawal and 1,000,000 fen
// a day, days counted in China Standard Time.
func DefaultLimits() Limits {
	return Limits{Min: 10, Max: 500_000, Daily: 1_000_000, Day: time.FixedZone("CST", 8*3600)}
}

// Withdrawal statuses.
const (
	Processing = "PROCESSING"
	Succeeded  = "SUCCEEDED"
	Failed     = "FAILED"
)

// Withdrawal is money on its way out of a wallet.
type Withdrawal struct {
	ID, ActivityID string
	ActID, Amount  int64
	Status         string
	FailureReason  string
	CreatedAt      time.Time
	// Attempts is how many times the payout worker took it up.
	Attempts int
	// OutcomeUnknownSince is set while a payout call's outcome is unknown (nil otherwise).
	OutcomeUnknownSince *time.Time
}

func withdrawalFrom(w *ent.Withdrawal) *Withdrawal {
	return &Withdrawal{ID: w.ID, ActivityID: w.ActivityID, ActID: w.ActID, Amount: w.Amount, Status: string(w.Status),
		FailureReason: w.FailureReason, CreatedAt: w.CreatedAt, Attempts: w.Attempts, OutcomeUnknownSince: w.OutcomeUnknownSince}
}

// Input is one withdrawal request.
type Input struct {
	Live      *activity.Live
	ActID     int64
	Amount    int64
	RequestID string
}

// Withdraw takes money out of the caller's wallet. Checks run in the contract's order: the
// switch (DEGRADED), then the limits (LIMIT_EXCEEDED), then the balance (INSUFFICIENT_BALANCE).
// Pending rewards are settled first; the debit is one conditional update in the same
// transaction that records the withdrawal, so concurrent withdrawals cannot overdraw. The
// same requestId replays the first withdrawal.
func (s *Service) Withdraw(ctx context.Context, in Input) (*Withdrawal, bool, error) {
	if !s.switches.Enabled(switches.Withdraw) {
		return nil, false, errs.E(errs.Degraded, "withdrawals are paused; please try again later")
	}
	if err := errs.RequestID(in.RequestID); err != nil {
		return nil, false, err
	}
	if in.Amount <= 0 {
		return nil, false, errs.Input("amount", "amount must be positive")
	}
	if w, err := s.findWithdrawal(ctx, s.db.R, in); err != nil || w != nil {
		return w, w != nil, err
	}
	lim := s.cfg.Limits
	if in.Amount < lim.Min {
		return nil, false, errs.E(errs.LimitExceeded, "the smallest withdrawal is %d fen", lim.Min)
	}
	if in.Amount > lim.Max {
		return nil, false, errs.E(errs.LimitExceeded, "the largest withdrawal is %d fen", lim.Max)
	}
	if _, err := s.settler.ForceSettle(ctx, in.Live, in.ActID); err != nil {
		return nil, false, fmt.Errorf("settle before withdrawal: %w", err)
	}
	var out *Withdrawal
	replayed := false
	// Once the debit is under way it is finished even if the client goes away.
	ctx, cancel := lifecycle.Detach(ctx, s.cfg.DebitTimeout)
	defer cancel()
	activityID := in.Live.ID
	err := s.db.WriteTx(ctx, func(tx *ent.Tx) error {
		out, replayed = nil, false
		if err := ledger.LockAccount(ctx, tx, s.db.Dialect, in.ActID); err != nil {
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
		now := store.Time(s.now())
		y, m, d := now.In(lim.Day).Date()
		dayStart := time.Date(y, m, d, 0, 0, 0, 0, lim.Day)
		var today []struct {
			Sum int64 `json:"sum"`
		}
		err = tx.Withdrawal.Query().
			Where(withdrawal.ActID(in.ActID), withdrawal.CreatedAtGTE(store.Time(dayStart)), withdrawal.StatusNEQ(withdrawal.StatusFAILED)).
			Aggregate(ent.As(ent.Sum(withdrawal.FieldAmount), "sum")).Scan(ctx, &today)
		if err != nil {
			return fmt.Errorf("sum today's withdrawals: %w", err)
		}
		if len(today) > 0 && today[0].Sum+in.Amount > lim.Daily {
			return errs.E(errs.LimitExceeded, "the daily withdrawal limit is %d fen; %d fen left today", lim.Daily, max(0, lim.Daily-today[0].Sum))
		}
		id := store.NewID("wd", now)
		row, err := tx.Withdrawal.Create().SetID(id).SetActivityID(activityID).SetActID(in.ActID).SetRequestID(in.RequestID).
			SetAmount(in.Amount).SetCreatedAt(now).SetNextAttemptAt(now).Save(ctx)
		if err != nil {
			return fmt.Errorf("record withdrawal: %w", err)
		}
		// The user leg is the debit: a conditional update that answers INSUFFICIENT_BALANCE
		// (rolling the withdrawal back) rather than overdraw.
		if err := ledger.Post(ctx, tx, ledger.Txn{ID: "withdraw:" + id, ActivityID: activityID, Kind: ledger.KindWithdrawal, Ref: id, At: now,
			Legs: []ledger.Leg{ledger.User(in.ActID, -in.Amount), ledger.System(ledger.PayoutClearing, in.Amount)}}); err != nil {
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
func (s *Service) findWithdrawal(ctx context.Context, c *ent.Client, in Input) (*Withdrawal, error) {
	w, err := c.Withdrawal.Query().Where(withdrawal.ActivityID(in.Live.ID), withdrawal.ActID(in.ActID), withdrawal.RequestID(in.RequestID)).Only(ctx)
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

// Get returns one of actID's withdrawals, or nil when it does not exist or belongs
// to someone else (the two are indistinguishable to the caller on purpose).
func (s *Service) Get(ctx context.Context, actID int64, id string) (*Withdrawal, error) {
	w, err := s.db.R.Withdrawal.Query().Where(withdrawal.ID(id), withdrawal.ActID(actID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get withdrawal: %w", err)
	}
	return withdrawalFrom(w), nil
}
