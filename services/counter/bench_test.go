package counter

// Benchmarks comparing the three ways the reference design weighed for a hot "total issued"
// counter (README, "Hot counter"): one INCR per request, 100 sharded keys (solution 1), and
// local counters pushed once a second (solution 2, what Counter does). Each write benchmark
// reports Redis commands per operation; read benchmarks measure read latency.

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/springwallet/wallet/internal/testenv"
)

func BenchmarkWriteIncrPerRequest(b *testing.B) {
	rdb := testenv.Redis(b, testenv.DBCounter)
	ctx := context.Background()
	var cmds atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rdb.IncrBy(ctx, "bench:single", 10)
			cmds.Add(1)
		}
	})
	b.ReportMetric(float64(cmds.Load())/float64(b.N), "redis-cmds/op")
}

func BenchmarkWriteSharded100(b *testing.B) {
	rdb := testenv.Redis(b, testenv.DBCounter)
	ctx := context.Background()
	var cmds, n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			actID := n.Add(1)
			rdb.IncrBy(ctx, "bench:shard:"+strconv.FormatInt(actID%100, 10), 10)
			cmds.Add(1)
		}
	})
	b.ReportMetric(float64(cmds.Load())/float64(b.N), "redis-cmds/op")
}

func BenchmarkWriteLocalSync(b *testing.B) {
	rdb := testenv.Redis(b, testenv.DBCounter)
	c := New(rdb, quiet(), time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Add("bench:local", "amt", 10)
		}
	})
	b.StopTimer()
	cancel()
	<-done
	// One HINCRBY per counter per push, whatever the request rate.
	b.ReportMetric(float64(c.flushes.Load())/float64(b.N), "redis-cmds/op")
}

func BenchmarkReadSingleKey(b *testing.B) {
	rdb := testenv.Redis(b, testenv.DBCounter)
	ctx := context.Background()
	rdb.Set(ctx, "bench:single", 1, 0)
	b.ResetTimer()
	for range b.N {
		rdb.Get(ctx, "bench:single")
	}
}

func BenchmarkReadSharded100(b *testing.B) {
	rdb := testenv.Redis(b, testenv.DBCounter)
	ctx := context.Background()
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = "bench:shard:" + strconv.Itoa(i)
		rdb.Set(ctx, keys[i], 1, 0)
	}
	b.ResetTimer()
	for range b.N {
		vals := rdb.MGet(ctx, keys...).Val()
		var sum int64
		for _, v := range vals {
			n, _ := strconv.ParseInt(v.(string), 10, 64)
			sum += n
		}
	}
}

func BenchmarkReadLocalSync(b *testing.B) {
	rdb := testenv.Redis(b, testenv.DBCounter)
	ctx := context.Background()
	c := New(rdb, quiet(), time.Second)
	c.Add("bench:local", "amt", 1)
	if err := c.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := c.Get(ctx, "bench:local", "amt"); err != nil {
			b.Fatal(err)
		}
	}
}
