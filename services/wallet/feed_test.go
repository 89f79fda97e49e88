package wallet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/services/errs"
)

// feedPostRP records red-packet flow on a user's account the way the red-packet code posts
// it (a user leg and an escrow leg), at the fixture's current time.
func (f *fixture) feedPostRP(t *testing.T, actID int64, kind string, amount int64) {
	t.Helper()
	ctx := context.Background()
	err := f.db.WriteTx(ctx, func(tx *ent.Tx) error {
		id := newID("rp", f.clock.Now())
		if err := post(ctx, tx, id, childID, kind, id, dbTime(f.clock.Now()),
			UserLeg(actID, amount), Leg{Account: RedPacketAccount(id), Amount: -amount}); err != nil {
			return err
		}
		if amount < 0 {
			return debit(ctx, tx, childID, actID, -amount)
		}
		return credit(ctx, tx, childID, actID, amount, kind == KindRedPacketGrab)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) feed(t *testing.T, actID int64, first int, after string) *FeedPage {
	t.Helper()
	p, err := f.s.Feed(context.Background(), childID, actID, first, after)
	if err != nil {
		t.Fatalf("feed: %v", err)
	}
	return p
}

// walk pages through the whole feed and returns every item in order.
func (f *fixture) walk(t *testing.T, actID int64, first int) []FeedItem {
	t.Helper()
	var all []FeedItem
	after := ""
	for range 10_000 {
		p := f.feed(t, actID, first, after)
		if len(p.Degraded) != 0 {
			t.Fatalf("degraded sources %v", p.Degraded)
		}
		all = append(all, p.Items...)
		if !p.HasNext {
			return all
		}
		after = p.Cursors[len(p.Cursors)-1]
	}
	t.Fatal("the feed never ended")
	return nil
}

func TestFeedMergesSourcesNewestFirst(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.issue(t, cash(31, 1, 1000)) // t0
	if _, err := f.s.ForceSettle(ctx, childID, 31); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Second)
	w, _, err := f.withdraw(31, 300, "w1") // t0+1s
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Second)
	f.feedPostRP(t, 31, KindRedPacketSent, -200) // t0+2s
	f.clock.Add(time.Second)
	f.feedPostRP(t, 31, KindRedPacketGrab, 50) // t0+3s
	f.clock.Add(time.Second)
	f.feedPostRP(t, 31, KindRedPacketRefund, 20) // t0+4s
	f.clock.Add(time.Second)
	f.issue(t, cash(31, 2, 77)) // t0+5s, pending
	p := f.feed(t, 31, 10, "")
	want := []struct {
		kind, status string
		amount       int64
	}{
		{ItemReward, StatusPending, 77},
		{KindRedPacketRefund, StatusSettled, 20},
		{KindRedPacketGrab, StatusSettled, 50},
		{KindRedPacketSent, StatusSettled, -200},
		{ItemWithdrawal, WithdrawalProcessing, -300},
		{ItemReward, StatusSettled, 1000},
	}
	if len(p.Items) != len(want) || p.HasNext || len(p.Degraded) != 0 {
		t.Fatalf("feed = %+v", p)
	}
	for i, w := range want {
		got := p.Items[i]
		if got.Kind != w.kind || got.Status != w.status || got.Amount != w.amount {
			t.Errorf("item %d = %+v, want %s %s %d", i, got, w.kind, w.status, w.amount)
		}
	}
	if p.Items[4].ID != prefixWithdrawal+w.ID {
		t.Errorf("withdrawal item id %s, want it to name withdrawal %s", p.Items[4].ID, w.ID)
	}
	// The signed amounts add up to the balance.
	var sum int64
	for _, it := range p.Items {
		sum += it.Amount
	}
	if b := f.wallet(t, 31); b.Balance != sum {
		t.Fatalf("feed amounts sum to %d, balance is %d", sum, b.Balance)
	}
}

func TestPendingRewardKeepsItsIDAndPlaceWhenSettled(t *testing.T) {
	f := setup(t)
	f.issue(t, cash(32, 1, 10))
	f.clock.Add(time.Millisecond)
	f.issue(t, cash(32, 2, 20))
	before := f.feed(t, 32, 10, "")
	if _, err := f.s.ForceSettle(context.Background(), childID, 32); err != nil {
		t.Fatal(err)
	}
	after := f.feed(t, 32, 10, "")
	if len(before.Items) != 2 || len(after.Items) != 2 {
		t.Fatalf("before %+v after %+v", before.Items, after.Items)
	}
	for i := range before.Items {
		b, a := before.Items[i], after.Items[i]
		if b.Status != StatusPending || a.Status != StatusSettled || a.ID != b.ID || !a.OccurredAt.Equal(b.OccurredAt) || before.Cursors[i] != after.Cursors[i] {
			t.Fatalf("item %d before %+v after %+v: want the same id, time and cursor, PENDING then SETTLED", i, b, a)
		}
	}
	// In the window between commit and cleanup the item shows once, as settled.
	f.issue(t, cash(32, 3, 30))
	f.s.afterCommit = func() error { return errCrash }
	_, _ = f.s.ForceSettle(context.Background(), childID, 32)
	f.s.afterCommit = nil
	p := f.feed(t, 32, 10, "")
	if len(p.Items) != 3 || p.Items[0].Status != StatusSettled || p.Items[0].Amount != 30 {
		t.Fatalf("feed in the crash window = %+v", p.Items)
	}
}

// buildMixedFeed gives account 33 n items from all three sources, many sharing a timestamp.
func buildMixedFeed(t *testing.T, f *fixture, n int) {
	t.Helper()
	f.fund(t, 33, 1_000_000)
	for i := 0; i < n; i++ {
		if i%4 == 0 {
			f.clock.Add(time.Millisecond) // groups of four share an instant
		}
		switch i % 3 {
		case 0:
			f.issue(t, cash(33, i, 5))
			if i%2 == 0 {
				if _, err := f.s.ForceSettle(context.Background(), childID, 33); err != nil {
					t.Fatal(err)
				}
			}
		case 1:
			if _, _, err := f.withdraw(33, 10, fmt.Sprint("w", i)); err != nil {
				t.Fatal(err)
			}
		case 2:
			f.feedPostRP(t, 33, KindRedPacketGrab, 3)
		}
	}
}

func checkOrderedOnce(t *testing.T, items []FeedItem) {
	t.Helper()
	seen := map[string]bool{}
	for i, it := range items {
		if seen[it.ID] {
			t.Fatalf("item %s appears twice", it.ID)
		}
		seen[it.ID] = true
		if i > 0 && !itemKey(it).before(itemKey(items[i-1])) {
			t.Fatalf("item %d (%s at %s) is not older than item %d (%s at %s)", i, it.ID, it.OccurredAt, i-1, items[i-1].ID, items[i-1].OccurredAt)
		}
	}
}

func TestFeedFullWalkWithSmallPages(t *testing.T) {
	f := setup(t)
	const n = 90
	buildMixedFeed(t, f, n)
	// The fund transaction is not a feed item; every other one is, exactly once.
	whole := f.feed(t, 33, 100, "")
	if len(whole.Items) != n {
		t.Fatalf("%d items in one page, want %d", len(whole.Items), n)
	}
	for _, size := range []int{1, 4, 7, 89, 90} {
		t.Run(fmt.Sprint("first=", size), func(t *testing.T) {
			items := f.walk(t, 33, size)
			if len(items) != n {
				t.Fatalf("walked %d items, want %d", len(items), n)
			}
			checkOrderedOnce(t, items)
			for i := range items {
				if items[i].ID != whole.Items[i].ID {
					t.Fatalf("item %d is %s walking by %d, %s in one page", i, items[i].ID, size, whole.Items[i].ID)
				}
			}
		})
	}
}

func TestFeedCursorStableAcrossInserts(t *testing.T) {
	f := setup(t)
	buildMixedFeed(t, f, 40)
	want := f.walk(t, 33, 100)
	first := f.feed(t, 33, 15, "")
	// New items of every source arrive while the user is on page one.
	f.clock.Add(time.Second)
	f.issue(t, cash(33, 9999, 5))
	if _, _, err := f.withdraw(33, 10, "late"); err != nil {
		t.Fatal(err)
	}
	f.feedPostRP(t, 33, KindRedPacketGrab, 3)
	got := first.Items
	after := first.Cursors[len(first.Cursors)-1]
	for {
		p := f.feed(t, 33, 15, after)
		got = append(got, p.Items...)
		if !p.HasNext {
			break
		}
		after = p.Cursors[len(p.Cursors)-1]
	}
	if len(got) != len(want) {
		t.Fatalf("walked %d items, want the original %d (new ones must not shift later pages)", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID {
			t.Fatalf("item %d is %s, want %s", i, got[i].ID, want[i].ID)
		}
	}
	if top := f.feed(t, 33, 3, ""); len(top.Items) != 3 || top.Items[0].OccurredAt.Before(first.Items[0].OccurredAt) {
		t.Fatalf("the new items are not at the top: %+v", top.Items)
	}
}

func TestFeedDegradesEachSource(t *testing.T) {
	f := setup(t)
	f.fund(t, 34, 1000)
	f.issue(t, cash(34, 1, 10))
	if _, _, err := f.withdraw(34, 100, "w"); err != nil {
		t.Fatal(err)
	}
	f.feedPostRP(t, 34, KindRedPacketGrab, 7)
	kinds := map[string]string{FeedSettlement: ItemReward, FeedWithdrawal: ItemWithdrawal, FeedRedPacket: KindRedPacketGrab}
	for source, sw := range feedSwitches {
		t.Run(source, func(t *testing.T) {
			f.s.SetSwitches(wdSwitches{sw: true})
			defer f.s.SetSwitches(allOn{})
			p := f.feed(t, 34, 10, "")
			if len(p.Degraded) != 1 || p.Degraded[0] != source {
				t.Fatalf("degraded = %v, want [%s]", p.Degraded, source)
			}
			if len(p.Items) != 2 {
				t.Fatalf("%d items, want the other two sources' items", len(p.Items))
			}
			for _, it := range p.Items {
				if it.Kind == kinds[source] {
					t.Fatalf("item %+v of a switched-off source", it)
				}
			}
		})
	}
	t.Run("redis unreachable", func(t *testing.T) {
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
		defer dead.Close()
		broken := New(f.db, dead, f.s.catalog, f.signer, f.clock.Now, slog.New(slog.NewTextHandler(io.Discard, nil)), f.s.cfg)
		p, err := broken.Feed(context.Background(), childID, 34, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Degraded) != 1 || p.Degraded[0] != FeedSettlement || len(p.Items) != 2 {
			t.Fatalf("feed without redis = %+v, want rewards degraded and the rest served", p)
		}
	})
}

func TestFeedRefusesBadPagingInput(t *testing.T) {
	f := setup(t)
	for _, first := range []int{0, -1, 101} {
		_, err := f.s.Feed(context.Background(), childID, 35, first, "")
		wantCode(t, err, errs.BadUserInput)
	}
	for _, cur := range []string{"garbage", "eyJ0IjoxfQ", "e30", strings.Repeat("A", 40), feedKey{at: 1, id: "x:1"}.encode()} {
		_, err := f.s.Feed(context.Background(), childID, 35, 10, cur)
		wantCode(t, err, errs.BadUserInput)
	}
}
