// Package breaker keeps the circuit breakers (sony/gobreaker) that protect the wallet from
// dependencies that fail or hang: the payout provider and the optional data sources. An open
// breaker answers at once instead of letting every request wait on a dependency that is down;
// after a pause it lets one trial request through and closes again when that succeeds.
package breaker

import (
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// ErrOpen is returned instead of calling a dependency whose breaker is open.
var ErrOpen = errors.New("circuit breaker open")

// Settings tune one breaker.
type Settings struct {
	// ConsecutiveFailures trips the breaker.
	ConsecutiveFailures uint32
	// OpenFor is how long it stays open before a trial request.
	OpenFor time.Duration
	// IsFailure says which errors count against the dependency (nil: every error). Business
	// refusals, like a rejected payout, are answers, not failures.
	IsFailure func(error) bool
}

// DefaultSettings trip after 5 failures in a row and retry after 5 s.
func DefaultSettings() Settings { return Settings{ConsecutiveFailures: 5, OpenFor: 5 * time.Second} }

// Breaker guards one dependency.
type Breaker struct {
	cb *gobreaker.CircuitBreaker[struct{}]
}

// Do runs fn unless the breaker is open (ErrOpen).
func (b *Breaker) Do(fn func() error) error {
	_, err := b.cb.Execute(func() (struct{}, error) { return struct{}{}, fn() })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return ErrOpen
	}
	return err
}

// State is a breaker as operators see it.
type State struct {
	Name                string
	State               string // closed, half-open, open
	Requests            uint32
	ConsecutiveFailures uint32
	TotalFailures       uint32
}

// Registry holds the breakers by name and exports their state as a metric.
type Registry struct {
	mu       sync.Mutex
	breakers map[string]*Breaker
	gauge    *prometheus.GaugeVec
}

// NewRegistry returns a Registry exporting wallet_circuit_breaker_state on reg (nil: none).
func NewRegistry(reg prometheus.Registerer) *Registry {
	r := &Registry{breakers: map[string]*Breaker{}}
	r.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wallet_circuit_breaker_state",
		Help: "Circuit breaker state by dependency: 0 closed, 1 half-open, 2 open.",
	}, []string{"name"})
	if reg != nil {
		reg.MustRegister(r.gauge)
	}
	return r
}

// Get returns the breaker called name, creating it with s on first use.
func (r *Registry) Get(name string, s Settings) *Breaker {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.breakers[name]; ok {
		return b
	}
	isFailure := s.IsFailure
	b := &Breaker{cb: gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Timeout:     s.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= s.ConsecutiveFailures },
		IsSuccessful: func(err error) bool {
			return err == nil || (isFailure != nil && !isFailure(err))
		},
		OnStateChange: func(name string, _, to gobreaker.State) { r.gauge.WithLabelValues(name).Set(float64(to)) },
	})}
	r.gauge.WithLabelValues(name).Set(0)
	r.breakers[name] = b
	return b
}

// States lists every breaker, by name.
func (r *Registry) States() []State {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]State, 0, len(r.breakers))
	for name, b := range r.breakers {
		c := b.cb.Counts()
		out = append(out, State{Name: name, State: b.cb.State().String(), Requests: c.Requests,
			ConsecutiveFailures: c.ConsecutiveFailures, TotalFailures: c.TotalFailures})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Do runs fn through the named breaker; a nil registry runs fn directly.
func (r *Registry) Do(name string, s Settings, fn func() error) error {
	if r == nil {
		return fn()
	}
	return r.Get(name, s).Do(fn)
}
