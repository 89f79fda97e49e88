package wallet

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Backlog is what waits in the settlement streams: how many jobs, and since when the oldest.
type Backlog struct {
	Jobs int64
	// Oldest is when the oldest queued job was appended (zero when none waits).
	Oldest time.Time
}

// SettlementBacklog reads every settlement stream's length and first entry (one pipeline).
// Jobs are deleted once settled, so what is left is work not done yet.
func (s *Service) SettlementBacklog(ctx context.Context) (Backlog, error) {
	pipe := s.rdb.Pipeline()
	lens := make([]*redis.IntCmd, s.cfg.Shards)
	firsts := make([]*redis.XMessageSliceCmd, s.cfg.Shards)
	for shard := range s.cfg.Shards {
		lens[shard] = pipe.XLen(ctx, streamKey(shard))
		firsts[shard] = pipe.XRangeN(ctx, streamKey(shard), "-", "+", 1)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Backlog{}, err
	}
	var b Backlog
	for shard := range s.cfg.Shards {
		b.Jobs += lens[shard].Val()
		for _, m := range firsts[shard].Val() {
			ms, err := strconv.ParseInt(strings.SplitN(m.ID, "-", 2)[0], 10, 64)
			if err != nil {
				continue
			}
			if at := time.UnixMilli(ms); b.Oldest.IsZero() || at.Before(b.Oldest) {
				b.Oldest = at
			}
		}
	}
	return b, nil
}

// BacklogCollector exports wallet_settlement_backlog (jobs waiting in the settlement streams)
// and wallet_settlement_lag_seconds (age of the oldest), read from Redis at scrape time.
func (s *Service) BacklogCollector() prometheus.Collector {
	return &backlogCollector{s: s,
		jobs: prometheus.NewDesc("wallet_settlement_backlog", "Settlement jobs waiting in the streams (settled jobs are deleted).", nil, nil),
		lag:  prometheus.NewDesc("wallet_settlement_lag_seconds", "Age of the oldest settlement job waiting (0 when none waits).", nil, nil),
	}
}

type backlogCollector struct {
	s         *Service
	jobs, lag *prometheus.Desc
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.jobs; ch <- c.lag }

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := c.s.SettlementBacklog(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.jobs, err)
		return
	}
	lag := 0.0
	if !b.Oldest.IsZero() {
		lag = max(0, c.s.now().Sub(b.Oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(b.Jobs))
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, lag)
}
