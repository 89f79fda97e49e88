package wallet

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/rewardorder"
	"github.com/springwallet/wallet/ent/withdrawal"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/counter"
)

// countIssued adds a new reward to the hot totals: amt and cnt over all scenes, cash (cash
// amount only), and amt:SCENE, cnt:SCENE per scene.
func (s *Service) countIssued(o Order) {
	k := statsKey(o.ActivityID)
	s.counter.Add(k, "amt", o.Amount)
	s.counter.Add(k, "cnt", 1)
	s.counter.Add(k, "amt:"+o.SceneID, o.Amount)
	s.counter.Add(k, "cnt:"+o.SceneID, 1)
	if o.IsCash() {
		s.counter.Add(k, "cash", o.Amount)
	}
}

// Stats are an activity's running totals.
type Stats struct {
	IssuedAmount    int64 // all award types, face value
	IssuedCount     int64
	SettledAmount   int64 // cash in the ledger
	PendingAmount   int64 // cash issued, not yet settled
	WithdrawnAmount int64 // withdrawals paid or being paid
}

// Stats reads an activity's totals: issuance from the hot counter, the rest from the database.
func (s *Service) Stats(ctx context.Context, a *activity.Activity) (Stats, error) {
	var st Stats
	k := statsKey(a.ID)
	var err error
	if st.IssuedAmount, err = s.counter.Get(ctx, k, "amt"); err != nil {
		return st, err
	}
	if st.IssuedCount, err = s.counter.Get(ctx, k, "cnt"); err != nil {
		return st, err
	}
	cash, err := s.counter.Get(ctx, k, "cash")
	if err != nil {
		return st, err
	}
	var sums []struct {
		Sum int64 `json:"sum"`
	}
	err = s.db.R.RewardOrder.Query().Where(rewardorder.ActivityID(a.ID), rewardorder.AwardType(AwardCash)).
		Aggregate(ent.As(ent.Sum(rewardorder.FieldAmount), "sum")).Scan(ctx, &sums)
	if err != nil {
		return st, fmt.Errorf("sum settled: %w", err)
	}
	if len(sums) > 0 {
		st.SettledAmount = sums[0].Sum
	}
	st.PendingAmount = max(0, cash-st.SettledAmount)
	sums = nil
	err = s.db.R.Withdrawal.Query().Where(withdrawal.ActivityID(a.ID), withdrawal.StatusNEQ(withdrawal.StatusFAILED)).
		Aggregate(ent.As(ent.Sum(withdrawal.FieldAmount), "sum")).Scan(ctx, &sums)
	if err != nil {
		return st, fmt.Errorf("sum withdrawn: %w", err)
	}
	if len(sums) > 0 {
		st.WithdrawnAmount = sums[0].Sum
	}
	return st, nil
}

// statsCollector exports the hot counter's issuance totals, for dashboards and alerts.
type statsCollector struct {
	c      *counter.Counter
	amount *prometheus.Desc
	count  *prometheus.Desc
}

// StatsCollector returns a Prometheus collector of issued amount and count per activity, read
// from this instance's hot counter (no Redis round trip at scrape time).
func (s *Service) StatsCollector() prometheus.Collector {
	return &statsCollector{
		c:      s.counter,
		amount: prometheus.NewDesc("wallet_issued_amount_fen", "Amount issued per activity (all award types, face value), from the hot counter.", []string{"activity"}, nil),
		count:  prometheus.NewDesc("wallet_issued_rewards", "Rewards issued per activity, from the hot counter.", []string{"activity"}, nil),
	}
}

func (sc *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sc.amount
	ch <- sc.count
}

func (sc *statsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range sc.c.Snapshot() {
		act, ok := statsKeyActivity(t.Hash)
		if !ok {
			continue
		}
		switch t.Field {
		case "amt":
			ch <- prometheus.MustNewConstMetric(sc.amount, prometheus.GaugeValue, float64(t.Value), act)
		case "cnt":
			ch <- prometheus.MustNewConstMetric(sc.count, prometheus.GaugeValue, float64(t.Value), act)
		}
	}
}
