// Package switches is the degradation switchboard. Switches are declared in code with safe
// defaults; their state lives in the database, is cached in every instance, and a change
// reaches every instance within a second: a Redis publish wakes them at once, a version key
// polled four times a second catches a missed message, and a database poll every few seconds
// covers Redis being away. An instance that can reach neither keeps its last known state.
package switches

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/services/audit"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/store"
)

// Redis names: the version counter bumped on every change and the channel announcing it.
const (
	versionKey = "w:switches:version"
	channel    = "w:switches"
)

// State is a switch as it is now.
type State struct {
	Def
	Enabled   bool
	UpdatedAt time.Time
	UpdatedBy string
	Reason    string
}

// Board serves switch states.
type Board struct {
	db    *store.DB
	rdb   redis.UniversalClient
	log   *slog.Logger
	now   func() time.Time
	defs  map[Name]Def
	mu    sync.RWMutex
	state map[Name]State
	// version is the Redis change counter the loaded state corresponds to.
	version int64
}

// New returns a Board with every switch at its default; Load reads the stored states.
func New(db *store.DB, rdb redis.UniversalClient, log *slog.Logger, now func() time.Time) *Board {
	b := &Board{db: db, rdb: rdb, log: log, now: now, defs: map[Name]Def{}, state: map[Name]State{}}
	for _, d := range Defs {
		b.defs[d.Name] = d
		b.state[d.Name] = State{Def: d, Enabled: d.Default}
	}
	return b
}

// Enabled reports a switch's state. Names are constants, each declared (a test proves it), so
// an undeclared name can only come from a conversion in code: a programming error, logged,
// and it reads as off, never as a silent on.
func (b *Board) Enabled(name Name) bool {
	b.mu.RLock()
	st, ok := b.state[name]
	b.mu.RUnlock()
	if !ok {
		b.log.Error("undeclared switch", "name", name)
		return false
	}
	return st.Enabled
}

// List returns every switch, by name.
func (b *Board) List() []State {
	b.mu.RLock()
	out := make([]State, 0, len(b.state))
	for _, st := range b.state {
		out = append(out, st)
	}
	b.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Version is the change counter of the state this instance runs.
func (b *Board) Version() int64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.version
}

// Load reads the stored states from the database.
func (b *Board) Load(ctx context.Context) error {
	rows, err := b.db.R.SwitchState.Query().All(ctx)
	if err != nil {
		return fmt.Errorf("load switches: %w", err)
	}
	next := make(map[Name]State, len(b.defs))
	for name, d := range b.defs {
		next[name] = State{Def: d, Enabled: d.Default}
	}
	for _, r := range rows {
		d, ok := b.defs[Name(r.ID)]
		if !ok {
			continue // a switch no longer declared
		}
		next[d.Name] = State{Def: d, Enabled: r.Enabled, UpdatedAt: r.UpdatedAt, UpdatedBy: r.UpdatedBy, Reason: r.Reason}
	}
	b.mu.Lock()
	for name, st := range next {
		if b.state[name].Enabled != st.Enabled {
			b.log.Info("switch changed", "switch", name, "enabled", st.Enabled, "by", st.UpdatedBy, "reason", st.Reason)
		}
	}
	b.state = next
	b.mu.Unlock()
	return nil
}

// Set changes a switch, audited in the same transaction, and tells every instance.
// The name comes from an operator, so an unknown one is NOT_FOUND.
func (b *Board) Set(ctx context.Context, name string, enabled bool, reason string) (State, error) {
	d, ok := b.defs[Name(name)]
	if !ok {
		return State{}, errs.E(errs.NotFound, "no switch named %q", name)
	}
	if reason == "" || len(reason) > 500 {
		return State{}, errs.Input("reason", "a reason (1..500 characters) is required")
	}
	now := b.now().UTC().Truncate(time.Microsecond)
	actor := audit.Actor(ctx)
	err := b.db.WriteTx(ctx, func(tx *ent.Tx) error {
		before := d.Default
		if cur, err := tx.SwitchState.Get(ctx, name); err == nil {
			before = cur.Enabled
		} else if !ent.IsNotFound(err) {
			return err
		}
		err := tx.SwitchState.Create().SetID(name).SetEnabled(enabled).SetUpdatedBy(actor).SetReason(reason).SetUpdatedAt(now).
			OnConflictColumns("id").UpdateNewValues().Exec(ctx)
		if err != nil {
			return fmt.Errorf("store switch: %w", err)
		}
		return audit.Write(ctx, tx, "setSwitch", name, map[string]bool{"enabled": before}, map[string]bool{"enabled": enabled}, reason, now)
	})
	if err != nil {
		return State{}, err
	}
	st := State{Def: d, Enabled: enabled, UpdatedAt: now, UpdatedBy: actor, Reason: reason}
	b.mu.Lock()
	b.state[d.Name] = st
	b.mu.Unlock()
	// The database holds the change; telling the others is best effort, their polls catch up.
	if v, err := b.rdb.Incr(ctx, versionKey).Result(); err == nil {
		b.rdb.Publish(ctx, channel, strconv.FormatInt(v, 10))
	} else {
		b.log.Warn("announce switch change", "err", err)
	}
	return st, nil
}

// Run keeps the state current until ctx ends.
func (b *Board) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	go func() {
		for ctx.Err() == nil {
			sub := b.rdb.Subscribe(ctx, channel)
			for range sub.Channel() {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
			sub.Close()
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	lastDB := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-poll.C:
		}
		v, err := b.rdb.Get(ctx, versionKey).Int64()
		switch {
		case err == nil || err == redis.Nil:
			if v != b.Version() || time.Since(lastDB) > 5*time.Second {
				if b.Load(ctx) == nil {
					lastDB = time.Now()
					b.mu.Lock()
					b.version = v
					b.mu.Unlock()
				}
			}
		case time.Since(lastDB) > 5*time.Second:
			// Redis is away: the database alone tells of changes, more slowly.
			if b.Load(ctx) == nil {
				lastDB = time.Now()
			}
		}
	}
}

// Fixed is a switchboard that never changes: the names it maps are in the given state, every
// other declared switch is at its default, and an undeclared name is off. Tests and tools use
// it where no database-backed Board is wanted.
type Fixed map[Name]bool

// AllOn is the Fixed switchboard with every switch at its default (all defaults are on).
func AllOn() Fixed { return Fixed{} }

// Off is the Fixed switchboard with the given switches off.
func Off(names ...Name) Fixed {
	f := Fixed{}
	for _, n := range names {
		f[n] = false
	}
	return f
}

// Enabled implements the switch readers' interface.
func (f Fixed) Enabled(name Name) bool {
	if on, ok := f[name]; ok {
		return on
	}
	d, ok := defsByName[name]
	return ok && d.Default
}

var defsByName = func() map[Name]Def {
	m := make(map[Name]Def, len(Defs))
	for _, d := range Defs {
		m[d.Name] = d
	}
	return m
}()

// Reader tells whether a switch is on: what the features that obey switches need (a Board,
// or a Fixed switchboard in tests).
type Reader interface {
	Enabled(name Name) bool
}
