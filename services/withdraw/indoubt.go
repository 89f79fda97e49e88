package withdraw

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/withdrawal"
	"github.com/springwallet/wallet/services/store"
)

// MaxInDoubtListed bounds one InDoubt answer.
const MaxInDoubtListed = 500

// InDoubt lists the PROCESSING withdrawals whose payout outcome has been unknown for longer
// than olderThan (0: the configured InDoubtAfter), oldest first: the provider may have paid
// them, and the worker keeps asking; an operator may want to ask the provider's support.
func (s *Service) InDoubt(ctx context.Context, olderThan time.Duration) ([]*Withdrawal, error) {
	if olderThan <= 0 {
		olderThan = s.cfg.Payout.InDoubtAfter
	}
	rows, err := s.db.R.Withdrawal.Query().
		Where(withdrawal.StatusEQ(withdrawal.StatusPROCESSING), withdrawal.OutcomeUnknownSinceLTE(store.Time(s.now().Add(-olderThan)))).
		Order(ent.Asc(withdrawal.FieldOutcomeUnknownSince)).Limit(MaxInDoubtListed).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("find payouts in doubt: %w", err)
	}
	out := make([]*Withdrawal, len(rows))
	for i, r := range rows {
		out[i] = withdrawalFrom(r)
	}
	return out, nil
}

// InDoubtCollector exports wallet_payouts_in_doubt (how many payouts have had an unknown
// outcome for longer than InDoubtAfter) and wallet_payouts_in_doubt_oldest_seconds, read
// from the database at scrape time (one indexed query, bounded by a short timeout).
func (s *Service) InDoubtCollector() prometheus.Collector {
	return &inDoubtCollector{s: s,
		count: prometheus.NewDesc("wallet_payouts_in_doubt", "PROCESSING withdrawals whose payout outcome has been unknown for longer than the in-doubt threshold.", nil, nil),
		age:   prometheus.NewDesc("wallet_payouts_in_doubt_oldest_seconds", "Age of the oldest unknown payout outcome (0 when there is none).", nil, nil),
	}
}

type inDoubtCollector struct {
	s          *Service
	count, age *prometheus.Desc
}

func (c *inDoubtCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.count; ch <- c.age }

func (c *inDoubtCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s := c.s
	q := s.db.R.Withdrawal.Query().Where(withdrawal.StatusEQ(withdrawal.StatusPROCESSING), withdrawal.OutcomeUnknownSinceNotNil())
	n, err := q.Clone().Where(withdrawal.OutcomeUnknownSinceLTE(store.Time(s.now().Add(-s.cfg.Payout.InDoubtAfter)))).Count(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.count, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(n))
	oldest, err := q.Order(ent.Asc(withdrawal.FieldOutcomeUnknownSince)).First(ctx)
	age := 0.0
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		ch <- prometheus.NewInvalidMetric(c.age, err)
		return
	default:
		age = s.now().Sub(*oldest.OutcomeUnknownSince).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age)
}
