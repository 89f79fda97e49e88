package breaker

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var errDown = errors.New("dependency down")
var errNo = errors.New("business refusal")

func TestBreakerOpensAndRecovers(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := NewRegistry(reg)
	s := Settings{ConsecutiveFailures: 3, OpenFor: 100 * time.Millisecond, IsFailure: func(err error) bool { return !errors.Is(err, errNo) }}
	calls := 0
	fail := func() error { calls++; return errDown }
	for range 3 {
		if err := r.Do("payout", s, fail); !errors.Is(err, errDown) {
			t.Fatalf("closed breaker returned %v", err)
		}
	}
	if err := r.Do("payout", s, fail); !errors.Is(err, ErrOpen) || calls != 3 {
		t.Fatalf("after 3 failures: %v with %d calls, want ErrOpen without calling", err, calls)
	}
	if got := testutil.ToFloat64(r.gauge.WithLabelValues("payout")); got != 2 {
		t.Fatalf("state metric %v, want 2 (open)", got)
	}
	if st := r.States(); len(st) != 1 || st[0].State != "open" {
		t.Fatalf("states = %+v", st)
	}
	time.Sleep(150 * time.Millisecond)
	if err := r.Do("payout", s, func() error { return nil }); err != nil {
		t.Fatalf("trial request after the pause: %v", err)
	}
	if st := r.States()[0].State; st != "closed" {
		t.Fatalf("after a successful trial the breaker is %s", st)
	}
	// Business refusals never trip it.
	for range 10 {
		_ = r.Do("payout", s, func() error { return errNo })
	}
	if st := r.States()[0].State; st != "closed" {
		t.Fatalf("refusals tripped the breaker: %s", st)
	}
	if n := testutil.CollectAndCount(r.gauge, "wallet_circuit_breaker_state"); n != 1 {
		t.Fatalf("%d breaker series, want 1", n)
	}
}
