package wallet

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestSettlementBacklogIsMeasured: issued rewards wait in the streams until the worker
// settles them; the backlog and its age are what the settlement alerts watch.
func TestSettlementBacklogIsMeasured(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if b, err := f.s.SettlementBacklog(ctx); err != nil || b.Jobs != 0 || !b.Oldest.IsZero() {
		t.Fatalf("empty backlog = %+v, %v", b, err)
	}
	for rain := range 3 {
		f.issue(t, cash(int64(60+rain), 1, 5))
	}
	b, err := f.s.SettlementBacklog(ctx)
	if err != nil || b.Jobs != 3 || b.Oldest.IsZero() {
		t.Fatalf("backlog = %+v, %v; want 3 jobs", b, err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(f.s.BacklogCollector())
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 2 {
		t.Fatalf("gather = %v, %v", mfs, err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "wallet_settlement_backlog" && mf.GetMetric()[0].GetGauge().GetValue() != 3 {
			t.Fatalf("wallet_settlement_backlog = %v", mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
	stop := runWorker(f)
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := f.s.SettlementBacklog(ctx)
		if err == nil && b.Jobs == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog after the worker = %+v, %v", b, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
