package redpacket

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent/ledgerentry"
	"github.com/springwallet/wallet/ent/redpacket"
	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/internal/testworld"
	"github.com/springwallet/wallet/internal/wallettest"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/feed"
	"github.com/springwallet/wallet/services/ledger"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/wallet"
)

type fixture struct {
	s     *Service
	w     *testworld.World
	core  *wallet.Service // the reward core: funds wallets, reads them, and is the Settler
	db    *store.DB
	rdb   redis.UniversalClient
	clock *testworld.Clock
	// live is the parent's phase live at T0, the PRODUCTION child. The tests move the clock up
	// to and past the child's end (expiry), and keep sending, grabbing and reading wallets in
	// that child, so it is resolved once here rather than at each call.
	live *activity.Live
}

var t0 = testworld.T0

const childID = testworld.Child

func setup(t *testing.T) *fixture {
	t.Helper()
	return setupWith(t, testworld.Options{RedisDB: testenv.DBFeatures}, Config{})
}

// setupWith wires red packets into a new world, as server.go does: the reward core is their
// Settler. A zero Config field takes its default.
func setupWith(t *testing.T, o testworld.Options, cfg Config) *fixture {
	t.Helper()
	w := testworld.New(t, o)
	core := wallettest.Core(t, w)
	s, err := New(Deps{DB: w.DB, Redis: w.Redis, Settler: core, Switches: w.Switches, Now: w.Clock.Now, Log: w.Log, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	live := w.Live(t)
	if live.ID != childID {
		t.Fatalf("live phase at T0 is %s, want %s", live.ID, childID)
	}
	return &fixture{s: s, w: w, core: core, db: w.DB, rdb: w.Redis, clock: w.Clock, live: live}
}

func (f *fixture) issue(t *testing.T, in wallet.IssueInput) *wallet.IssueResult {
	t.Helper()
	return wallettest.Issue(t, f.core, in)
}

// wallet reads actID's wallet in the fixture's child and checks balance == settled + pending.
func (f *fixture) wallet(t *testing.T, actID int64) wallet.Balance {
	t.Helper()
	b, err := f.core.Wallet(context.Background(), f.live, actID)
	if err != nil {
		t.Fatalf("wallet: %v", err)
	}
	if b.Balance != b.Settled+b.Pending {
		t.Fatalf("balance %d != settled %d + pending %d", b.Balance, b.Settled, b.Pending)
	}
	return b
}

// feed is the wallet feed on the fixture's parts.
func (f *fixture) feed(t *testing.T) *feed.Service {
	t.Helper()
	fd, err := feed.New(feed.Deps{DB: f.db, Rewards: f.core, Switches: f.w.Switches, Breakers: f.w.Breakers, Log: f.w.Log})
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// checkLedger asserts the ledger's invariants (testworld.World.CheckLedger).
func (f *fixture) checkLedger(t *testing.T) { t.Helper(); f.w.CheckLedger(t) }

// wantCode fails the test unless err carries code.
var wantCode = testworld.WantCode

// rpFund gives actID amount fen of settled balance in the live child (call it before moving
// the clock: it resolves the live phase).
func (f *fixture) rpFund(t *testing.T, actID, amount int64) {
	t.Helper()
	wallettest.Fund(t, f.w, f.core, actID, amount)
}

func (f *fixture) rpSendIn(actID, total int64, count int, mode, requestID string) SendInput {
	return SendInput{Live: f.live, ActID: actID, TotalAmount: total, Count: count, Mode: mode,
		Greeting: "恭喜发财", RequestID: requestID}
}

func (f *fixture) rpSend(t *testing.T, in SendInput) *RedPacket {
	t.Helper()
	p, replayed, err := f.s.Send(context.Background(), in)
	if err != nil {
		t.Fatalf("send %+v: %v", in, err)
	}
	if replayed {
		t.Fatalf("send %+v was a replay", in)
	}
	return p
}

func (f *fixture) rpGrab(t *testing.T, id string, actID int64) *GrabResult {
	t.Helper()
	res, err := f.s.Grab(context.Background(), id, actID)
	if err != nil {
		t.Fatalf("grab %s by %d: %v", id, actID, err)
	}
	return res
}

func (f *fixture) rpPacket(t *testing.T, id string) *RedPacket {
	t.Helper()
	row, err := f.db.R.RedPacket.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return packetFrom(row)
}

// checkRedPacketEscrow asserts the red packets' invariants: each packet's escrow account holds what is
// neither grabbed nor refunded (nothing once the packet is finished or expired), its shares
// add up to its total, and its remaining count and amount match its grabs.
func (f *fixture) checkRedPacketEscrow(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	packets, err := f.db.R.RedPacket.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	legs, err := f.db.R.LedgerEntry.Query().Where(ledgerentry.AccountHasPrefix(ledger.RedPacketPrefix)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	escrow := map[string]int64{}
	for _, l := range legs {
		escrow[l.Account] += l.Amount
	}
	grabs, err := f.db.R.RedPacketGrab.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	grabbed, grabCount := map[string]int64{}, map[string]int{}
	for _, g := range grabs {
		grabbed[g.PacketID] += g.Amount
		grabCount[g.PacketID]++
	}
	for _, p := range packets {
		esc := escrow[ledger.RedPacketAccount(p.ID)]
		var shares int64
		for _, s := range p.Shares {
			shares += s
		}
		if shares != p.TotalAmount || len(p.Shares) != p.Count {
			t.Errorf("packet %s: %d shares sum to %d, want %d summing to %d", p.ID, len(p.Shares), shares, p.Count, p.TotalAmount)
		}
		if grabbed[p.ID]+p.RefundedAmount+esc != p.TotalAmount {
			t.Errorf("packet %s: grabbed %d + refunded %d + escrow %d != total %d", p.ID, grabbed[p.ID], p.RefundedAmount, esc, p.TotalAmount)
		}
		if p.RemainingAmount != p.TotalAmount-grabbed[p.ID] || p.RemainingCount != p.Count-grabCount[p.ID] {
			t.Errorf("packet %s: remaining %d fen in %d shares, grabs say %d in %d", p.ID, p.RemainingAmount, p.RemainingCount,
				p.TotalAmount-grabbed[p.ID], p.Count-grabCount[p.ID])
		}
		switch p.Status {
		case redpacket.StatusOPEN:
			if esc != p.RemainingAmount {
				t.Errorf("open packet %s: escrow %d, want the remaining %d", p.ID, esc, p.RemainingAmount)
			}
		case redpacket.StatusFINISHED:
			if esc != 0 || p.RemainingCount != 0 || p.RefundedAmount != 0 {
				t.Errorf("finished packet %s: escrow %d, remaining count %d, refunded %d", p.ID, esc, p.RemainingCount, p.RefundedAmount)
			}
		case redpacket.StatusEXPIRED:
			if esc != 0 || p.RefundedAmount != p.RemainingAmount {
				t.Errorf("expired packet %s: escrow %d, refunded %d of remaining %d", p.ID, esc, p.RefundedAmount, p.RemainingAmount)
			}
		}
	}
}

func (f *fixture) redPacketKeyCount(t *testing.T) int {
	t.Helper()
	keys, err := f.rdb.Keys(context.Background(), "rp:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

func TestSendRedPacketSettlesPendingRewardsFirst(t *testing.T) {
	f := setup(t)
	// The sender's money is still pending: sending settles it first.
	f.issue(t, wallettest.Cash(101, 5000))
	if b := f.wallet(t, 101); b.Pending != 5000 || b.Settled != 0 {
		t.Fatalf("before sending: %+v", b)
	}
	p := f.rpSend(t, f.rpSendIn(101, 3000, 3, Random, "req-1"))
	if p.ActivityID != childID || p.SenderActID != 101 || p.TotalAmount != 3000 || p.Count != 3 || p.RemainingCount != 3 ||
		p.RemainingAmount != 3000 || p.Status != "OPEN" || p.Greeting != "恭喜发财" || p.Mode != Random {
		t.Fatalf("packet = %+v", p)
	}
	if !strings.HasPrefix(p.ID, "rp") || !p.ExpiresAt.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("packet id %s expires %s, want rp… at %s", p.ID, p.ExpiresAt, t0.Add(24*time.Hour))
	}
	if b := f.wallet(t, 101); b.Settled != 2000 || b.Pending != 0 || b.Balance != 2000 || b.CumulativeIncome != 5000 {
		t.Fatalf("after sending: %+v, want 2000 settled and income untouched", b)
	}
	n, err := f.db.R.LedgerEntry.Query().Where(ledgerentry.Kind(string(ledger.KindRedPacketSent)), ledgerentry.Ref(p.ID)).Count(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("%d RED_PACKET_SENT legs (%v), want 2", n, err)
	}
	if got := f.rdb.LLen(context.Background(), redPacketKeys(p.ID)[0]).Val(); got != 3 {
		t.Fatalf("%d shares pushed to redis, want 3", got)
	}
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

func TestSendRedPacketInsufficientBalanceChangesNothing(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.rpFund(t, 102, 1000)
	_, _, err := f.s.Send(ctx, f.rpSendIn(102, 1001, 2, Fixed, "too-much"))
	wantCode(t, err, errs.InsufficientBalance)
	_, _, err = f.s.Send(ctx, f.rpSendIn(103, 1, 1, Fixed, "nothing"))
	wantCode(t, err, errs.InsufficientBalance)
	if b := f.wallet(t, 102); b.Settled != 1000 {
		t.Fatalf("wallet = %+v, want 1000 untouched", b)
	}
	if n, _ := f.db.R.RedPacket.Query().Count(ctx); n != 0 {
		t.Fatalf("%d packets after refused sends", n)
	}
	if n := f.redPacketKeyCount(t); n != 0 {
		t.Fatalf("%d red packet keys in redis after refused sends", n)
	}
	// Exactly the balance is fine.
	f.rpSend(t, f.rpSendIn(102, 1000, 2, Fixed, "all-of-it"))
	if b := f.wallet(t, 102); b.Balance != 0 {
		t.Fatalf("wallet = %+v, want 0", b)
	}
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

func TestSendRedPacketReplayAndConflict(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.rpFund(t, 104, 10_000)
	first := f.rpSend(t, f.rpSendIn(104, 1000, 5, Random, "same"))
	f.rpGrab(t, first.ID, 105)
	again, replayed, err := f.s.Send(ctx, f.rpSendIn(104, 1000, 5, Random, "same"))
	if err != nil || !replayed || again.ID != first.ID || again.RemainingCount != 4 {
		t.Fatalf("replay = %+v, %v, %v; want the same packet, replayed, as it is now", again, replayed, err)
	}
	for name, in := range map[string]SendInput{
		"other amount": f.rpSendIn(104, 1001, 5, Random, "same"),
		"other count":  f.rpSendIn(104, 1000, 4, Random, "same"),
		"other mode":   f.rpSendIn(104, 1000, 5, Fixed, "same"),
	} {
		_, _, err := f.s.Send(ctx, in)
		if errs.CodeOf(err) != errs.IdempotencyConflict {
			t.Errorf("%s: got %v, want IDEMPOTENCY_CONFLICT", name, err)
		}
	}
	if b := f.wallet(t, 104); b.Settled != 9000 {
		t.Fatalf("wallet = %+v, want debited once", b)
	}
	// The key is the sender's: another sender's "same" is another packet.
	f.rpFund(t, 106, 500)
	if other := f.rpSend(t, f.rpSendIn(106, 500, 1, Fixed, "same")); other.ID == first.ID {
		t.Fatal("another sender's request id replayed the first sender's packet")
	}

	// Concurrent duplicates create one packet and debit once.
	const n = 20
	var wg sync.WaitGroup
	ids := make([]string, n)
	fresh := atomic.Int32{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, replayed, err := f.s.Send(ctx, f.rpSendIn(104, 2000, 10, Fixed, "burst"))
			if err != nil {
				t.Errorf("duplicate send %d: %v", i, err)
				return
			}
			ids[i] = p.ID
			if !replayed {
				fresh.Add(1)
			}
		}()
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Fatalf("%d of %d duplicate sends created a packet, want 1", fresh.Load(), n)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("duplicates answered different packets: %v", ids)
		}
	}
	if b := f.wallet(t, 104); b.Settled != 7000 {
		t.Fatalf("wallet = %+v, want 7000 after two packets", b)
	}
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

func TestSendRedPacketBadInputChangesNothing(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.issue(t, wallettest.Cash(107, 10_000)) // pending: a refused send must not even settle it
	mod := func(fn func(*SendInput)) SendInput {
		in := f.rpSendIn(107, 1000, 10, Random, "bad")
		fn(&in)
		return in
	}
	cases := []struct {
		name string
		in   SendInput
		want errs.Code
	}{
		{"count 0", mod(func(in *SendInput) { in.Count = 0 }), errs.BadUserInput},
		{"count 1001", mod(func(in *SendInput) { in.Count = 1001; in.TotalAmount = 5000 }), errs.BadUserInput},
		{"negative count", mod(func(in *SendInput) { in.Count = -1 }), errs.BadUserInput},
		{"zero amount", mod(func(in *SendInput) { in.TotalAmount = 0 }), errs.BadUserInput},
		{"negative amount", mod(func(in *SendInput) { in.TotalAmount = -100 }), errs.BadUserInput},
		{"less than 1 fen a share", mod(func(in *SendInput) { in.TotalAmount = 9 }), errs.BadUserInput},
		{"unknown mode", mod(func(in *SendInput) { in.Mode = "LUCKY" }), errs.BadUserInput},
		{"greeting of 101 characters", mod(func(in *SendInput) { in.Greeting = strings.Repeat("福", 101) }), errs.BadUserInput},
		{"greeting not UTF-8", mod(func(in *SendInput) { in.Greeting = "\xff" }), errs.BadUserInput},
		{"empty request id", mod(func(in *SendInput) { in.RequestID = "" }), errs.BadUserInput},
		{"request id of 65 characters", mod(func(in *SendInput) { in.RequestID = strings.Repeat("r", 65) }), errs.BadUserInput},
		{"over the maximum", mod(func(in *SendInput) { in.TotalAmount = 2_000_001 }), errs.LimitExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.s.Send(ctx, tc.in)
			wantCode(t, err, tc.want)
			if b := f.wallet(t, 107); b.Pending != 10_000 || b.Settled != 0 {
				t.Fatalf("a refused send changed the wallet: %+v", b)
			}
			if n, _ := f.db.R.RedPacket.Query().Count(ctx); n != 0 {
				t.Fatalf("a refused send left %d packets", n)
			}
			if n := f.redPacketKeyCount(t); n != 0 {
				t.Fatalf("a refused send left %d red packet keys", n)
			}
		})
	}
	// The bounds themselves are fine.
	f.rpSend(t, mod(func(in *SendInput) {
		in.Greeting, in.RequestID, in.TotalAmount, in.Count = strings.Repeat("福", 100), strings.Repeat("r", 64), 1000, 1000
	}))
	f.rpSend(t, mod(func(in *SendInput) { in.RequestID, in.Count, in.Greeting = "one", 1, "" }))
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

func TestRedPacketConfigurableLimitAndLifetime(t *testing.T) {
	f := setupWith(t, testworld.Options{RedisDB: testenv.DBFeatures}, Config{MaxTotal: 5000, TTL: time.Hour})
	ctx := context.Background()
	f.rpFund(t, 108, 10_000)
	_, _, err := f.s.Send(ctx, f.rpSendIn(108, 5001, 1, Fixed, "over"))
	wantCode(t, err, errs.LimitExceeded)
	p := f.rpSend(t, f.rpSendIn(108, 5000, 1, Fixed, "at-limit"))
	if !p.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("expires at %s, want an hour after sending", p.ExpiresAt)
	}
}

func TestRedPacketSwitchesDegrade(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.rpFund(t, 109, 1000)
	p := f.rpSend(t, f.rpSendIn(109, 1000, 2, Fixed, "before"))

	f.w.Switches.Only(switches.RedPacketSend)
	_, _, err := f.s.Send(ctx, f.rpSendIn(109, 100, 1, Fixed, "off"))
	wantCode(t, err, errs.Degraded)
	// The switch is checked first: even bad input answers DEGRADED.
	_, _, err = f.s.Send(ctx, f.rpSendIn(109, 0, 0, "?", ""))
	wantCode(t, err, errs.Degraded)
	f.rpGrab(t, p.ID, 110) // grabbing has its own switch

	f.w.Switches.Only(switches.RedPacketGrab)
	_, err = f.s.Grab(ctx, p.ID, 111)
	wantCode(t, err, errs.Degraded)

	f.w.Switches.Only()
	f.rpGrab(t, p.ID, 111)
	if n, _ := f.db.R.RedPacket.Query().Count(ctx); n != 1 {
		t.Fatalf("%d packets, want only the one sent while the switch was on", n)
	}
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

func TestGrabRedPacketConcurrentGrabbersNeverOversell(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	const total, count, grabbers = 10_000, 50, 300
	f.rpFund(t, 1, total)
	p := f.rpSend(t, f.rpSendIn(1, total, count, Random, "rain"))
	results := make([]*GrabResult, grabbers)
	errsOut := make([]error, grabbers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range grabbers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errsOut[i] = f.s.Grab(ctx, p.ID, int64(1000+i))
		}()
	}
	close(start)
	wg.Wait()
	var sum int64
	seqs := map[int]bool{}
	won := 0
	for i := range grabbers {
		if errsOut[i] != nil {
			if errs.CodeOf(errsOut[i]) != errs.RedPacketEmpty {
				t.Fatalf("grabber %d: %v, want success or RED_PACKET_EMPTY", i, errsOut[i])
			}
			if b := f.wallet(t, int64(1000+i)); b.Balance != 0 {
				t.Fatalf("grabber %d got nothing but has %+v", i, b)
			}
			continue
		}
		won++
		r := results[i]
		if seqs[r.Seq] {
			t.Fatalf("share %d handed out twice", r.Seq)
		}
		seqs[r.Seq] = true
		sum += r.Amount
		if b := f.wallet(t, int64(1000+i)); b.Settled != r.Amount || b.CumulativeIncome != r.Amount {
			t.Fatalf("grabber %d got %d but the wallet says %+v", i, r.Amount, b)
		}
	}
	if won != count || sum != total {
		t.Fatalf("%d grabs won %d fen, want exactly %d winning %d", won, sum, count, total)
	}
	got := f.rpPacket(t, p.ID)
	if got.Status != "FINISHED" || got.RemainingCount != 0 || got.RemainingAmount != 0 {
		t.Fatalf("packet after every share went = %+v", got)
	}
	_, err := f.s.Grab(ctx, p.ID, 5000)
	wantCode(t, err, errs.RedPacketEmpty)
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

func TestGrabRedPacketOncePerAccount(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.rpFund(t, 2, 500)
	p := f.rpSend(t, f.rpSendIn(2, 500, 5, Fixed, "once"))
	const n = 20
	errsOut := make([]error, n)
	results := make([]*GrabResult, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errsOut[i] = f.s.Grab(ctx, p.ID, 300)
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errsOut {
		switch {
		case err == nil:
			won++
			if results[i].Amount != 100 || results[i].RedPacket.RemainingCount != 4 || results[i].RedPacket.RemainingAmount != 400 {
				t.Fatalf("grab = %+v, packet %+v", results[i], results[i].RedPacket)
			}
		case errs.CodeOf(err) != errs.AlreadyGrabbed:
			t.Fatalf("duplicate grab %d: %v, want ALREADY_GRABBED", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent grabs by one account won, want 1", won, n)
	}
	if b := f.wallet(t, 300); b.Settled != 100 {
		t.Fatalf("wallet = %+v, want one share", b)
	}
	// The sender may grab their own packet; grabs count as income.
	own := f.rpGrab(t, p.ID, 2)
	if b := f.wallet(t, 2); b.Settled != own.Amount || b.CumulativeIncome != 500+own.Amount {
		t.Fatalf("sender's wallet after grabbing own share = %+v", b)
	}
	_, err := f.s.Grab(ctx, "rp-nope", 300)
	wantCode(t, err, errs.NotFound)
	_, err = f.s.Grab(ctx, "", 300)
	wantCode(t, err, errs.NotFound)
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

func TestGrabRedPacketAfterRedisLostItsShares(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.rpFund(t, 3, 20_000)

	// Lost right after sending (a crash between the commit and the push, or Redis data loss):
	// the first grab loads the shares from the database.
	p := f.rpSend(t, f.rpSendIn(3, 1000, 10, Random, "lost-early"))
	f.rdb.FlushDB(ctx)
	var sum int64
	for i := range 4 {
		sum += f.rpGrab(t, p.ID, int64(400+i)).Amount
	}
	// Lost again midway: the recorded grabs are not handed out again, nor grabbed twice.
	f.rdb.FlushDB(ctx)
	for i := range 4 {
		_, err := f.s.Grab(ctx, p.ID, int64(400+i))
		wantCode(t, err, errs.AlreadyGrabbed)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	won := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.s.Grab(ctx, p.ID, int64(500+i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
				sum += res.Amount
			case errs.CodeOf(err) != errs.RedPacketEmpty:
				t.Errorf("grab by %d: %v", 500+i, err)
			}
		}()
	}
	wg.Wait()
	if won != 6 || sum != 1000 {
		t.Fatalf("after losing redis twice: %d more grabs won, %d fen in all; want 6 more and exactly 1000", won, sum)
	}
	if n := f.rdb.LLen(ctx, redPacketKeys(p.ID)[0]).Val(); n != 0 {
		t.Fatalf("%d shares left in redis after the packet finished", n)
	}

	// Two loaders racing (many first grabs at once after a loss) push the shares once.
	q := f.rpSend(t, f.rpSendIn(3, 5000, 50, Fixed, "lost-race"))
	f.rdb.FlushDB(ctx)
	wg = sync.WaitGroup{}
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.s.Grab(ctx, q.ID, int64(600+i)); err != nil {
				t.Errorf("grab by %d: %v", 600+i, err)
			}
		}()
	}
	wg.Wait()
	if n := f.rdb.LLen(ctx, redPacketKeys(q.ID)[0]).Val(); n != 20 {
		t.Fatalf("%d shares in redis after 30 of 50 were grabbed, want 20", n)
	}
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

func TestGrabCompletedOnRetryAfterItsDatabaseWriteFailed(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.rpFund(t, 4, 900)
	p := f.rpSend(t, f.rpSendIn(4, 900, 3, Random, "half-done"))
	// Redis hands account 700 a share, and the grab dies before writing the database.
	claim, err := rpGrabScript.Run(ctx, f.rdb, redPacketKeys(p.ID), 700, p.ExpiresAt.Add(time.Hour).UnixMilli()).StringSlice()
	if err != nil || claim[0] != "ok" {
		t.Fatalf("claim = %v, %v", claim, err)
	}
	if b := f.wallet(t, 700); b.Balance != 0 {
		t.Fatalf("wallet before the retry = %+v", b)
	}
	if got := f.rpPacket(t, p.ID); got.RemainingCount != 3 {
		t.Fatalf("packet before the retry = %+v", got)
	}
	// The retry pays exactly the share Redis handed out, once however many retries race.
	const retries = 10
	results := make([]*GrabResult, retries)
	errsOut := make([]error, retries)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range retries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errsOut[i] = f.s.Grab(ctx, p.ID, 700)
		}()
	}
	close(start)
	wg.Wait()
	var res *GrabResult
	for i, err := range errsOut {
		switch {
		case err == nil && res != nil:
			t.Fatalf("two retries of one grab both succeeded")
		case err == nil:
			res = results[i]
		case errs.CodeOf(err) != errs.AlreadyGrabbed:
			t.Fatalf("retry %d: %v, want success or ALREADY_GRABBED", i, err)
		}
	}
	if res == nil {
		t.Fatal("no retry completed the grab")
	}
	if shareString(res.Seq, res.Amount) != claim[1] || res.RedPacket.RemainingCount != 2 || res.RedPacket.RemainingAmount != 900-res.Amount {
		t.Fatalf("retry = %+v (packet %+v), want the claimed share %s", res, res.RedPacket, claim[1])
	}
	_, err = f.s.Grab(ctx, p.ID, 700)
	wantCode(t, err, errs.AlreadyGrabbed)
	sum := res.Amount + f.rpGrab(t, p.ID, 701).Amount + f.rpGrab(t, p.ID, 702).Amount
	_, err = f.s.Grab(ctx, p.ID, 703)
	wantCode(t, err, errs.RedPacketEmpty)
	if sum != 900 {
		t.Fatalf("grabs sum to %d, want 900", sum)
	}
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

// TestGrabReleasesAShareTheDatabaseGaveAway covers Redis handing out a share again after
// losing data while its first grab was in flight: the database refuses the second holder,
// who is given another share.
func TestGrabReleasesAShareTheDatabaseGaveAway(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.rpFund(t, 5, 300)
	p := f.rpSend(t, f.rpSendIn(5, 300, 3, Random, "twice-given"))
	first := f.rpGrab(t, p.ID, 800)
	// Redis comes back claiming account 801 holds the share 800 already has.
	keys := redPacketKeys(p.ID)
	f.rdb.FlushDB(ctx)
	var rest []any
	for i, amt := range p.shares {
		if i != first.Seq {
			rest = append(rest, shareString(i, amt))
		}
	}
	f.rdb.RPush(ctx, keys[0], rest...)
	f.rdb.HSet(ctx, keys[1], "801", shareString(first.Seq, first.Amount))
	f.rdb.Set(ctx, keys[2], 1, 0)

	res := f.rpGrab(t, p.ID, 801)
	if res.Seq == first.Seq {
		t.Fatalf("account 801 was paid share %d, already paid to 800", res.Seq)
	}
	if b := f.wallet(t, 801); b.Settled != res.Amount {
		t.Fatalf("wallet = %+v, want %d", b, res.Amount)
	}
	f.rpGrab(t, p.ID, 802)
	_, err := f.s.Grab(ctx, p.ID, 803)
	wantCode(t, err, errs.RedPacketEmpty)
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

func TestExpiredRedPacketRefundsTheRemainderOnce(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.rpFund(t, 6, 3000)
	p := f.rpSend(t, f.rpSendIn(6, 1000, 4, Fixed, "expires"))
	done := f.rpSend(t, f.rpSendIn(6, 200, 2, Fixed, "finishes"))
	f.rpGrab(t, p.ID, 900)
	f.rpGrab(t, done.ID, 900)
	f.rpGrab(t, done.ID, 901)
	f.clock.Add(time.Hour)
	later := f.rpSend(t, f.rpSendIn(6, 300, 3, Fixed, "later"))

	if n, err := f.s.Expire(ctx); err != nil || n != 0 {
		t.Fatalf("expire before time = %d, %v; want nothing", n, err)
	}
	f.clock.Add(23 * time.Hour) // exactly the first packet's expiry
	_, err := f.s.Grab(ctx, p.ID, 902)
	wantCode(t, err, errs.RedPacketExpired) // expired even before the refund ran
	before := f.wallet(t, 6)
	// The redpacket.expiry switch holds refunds back.
	f.w.Switches.Only(switches.RedPacketExpiry)
	if n, err := f.s.Expire(ctx); err != nil || n != 0 {
		t.Fatalf("expire while switched off = %d, %v; want nothing", n, err)
	}
	if st := f.rpPacket(t, p.ID).Status; st != "OPEN" {
		t.Fatalf("switched-off expiry changed the packet to %s", st)
	}
	f.w.Switches.Only()
	if n, err := f.s.Expire(ctx); err != nil || n != 1 {
		t.Fatalf("expire = %d, %v; want 1", n, err)
	}
	after := f.wallet(t, 6)
	if after.Settled-before.Settled != 750 || after.CumulativeIncome != before.CumulativeIncome {
		t.Fatalf("sender %+v → %+v, want exactly the 750 left back, not counted as income", before, after)
	}
	got := f.rpPacket(t, p.ID)
	if got.Status != "EXPIRED" || got.RefundedAmount != 750 || got.RemainingAmount != 750 || got.RemainingCount != 3 {
		t.Fatalf("expired packet = %+v", got)
	}
	if st := f.rpPacket(t, done.ID).Status; st != "FINISHED" {
		t.Fatalf("finished packet became %s", st)
	}
	if st := f.rpPacket(t, later.ID).Status; st != "OPEN" {
		t.Fatalf("a packet with time left became %s", st)
	}
	if n := f.rdb.Exists(ctx, redPacketKeys(p.ID)...).Val(); n != 0 {
		t.Fatalf("%d redis keys left of the expired packet", n)
	}
	// A second run, and grabs after expiry, change nothing.
	if n, err := f.s.Expire(ctx); err != nil || n != 0 {
		t.Fatalf("second expire = %d, %v; want 0", n, err)
	}
	for _, actID := range []int64{900, 903} {
		_, err = f.s.Grab(ctx, p.ID, actID)
		wantCode(t, err, errs.RedPacketExpired)
	}
	if b := f.wallet(t, 6); b != after {
		t.Fatalf("wallet %+v after the second run, want %+v", b, after)
	}
	n, _ := f.db.R.LedgerEntry.Query().Where(ledgerentry.Kind(string(ledger.KindRedPacketRefund)), ledgerentry.Ref(p.ID), ledgerentry.ActID(6)).Count(ctx)
	if n != 1 {
		t.Fatalf("%d refund legs to the sender, want 1", n)
	}
	// The wallet feed shows each movement with its signed amount.
	type feedItem struct {
		Kind   string
		Amount int64
	}
	sent, grab, refund := string(ledger.KindRedPacketSent), string(ledger.KindRedPacketGrab), string(ledger.KindRedPacketRefund)
	for actID, want := range map[int64][]feedItem{
		6:   {{Kind: refund, Amount: 750}, {Kind: sent, Amount: -300}, {Kind: sent, Amount: -200}, {Kind: sent, Amount: -1000}},
		900: {{Kind: grab, Amount: 100}, {Kind: grab, Amount: 250}},
	} {
		page, err := f.feed(t).Page(ctx, f.live, actID, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		var got []feedItem
		for _, it := range page.Items {
			if it.Kind != feed.ItemReward {
				got = append(got, feedItem{Kind: it.Kind, Amount: it.Amount})
			}
		}
		if len(got) != len(want) {
			t.Fatalf("feed of %d = %+v (degraded sources %v), want %+v", actID, got, page.Degraded, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("feed of %d = %+v, want %+v", actID, got, want)
			}
		}
	}
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

func TestExpireRedPacketsConcurrentlyRefundsOnce(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.rpFund(t, 7, 10_000)
	for i := range 10 {
		p := f.rpSend(t, f.rpSendIn(7, 1000, 5, Random, "many-"+strconv.Itoa(i)))
		f.rpGrab(t, p.ID, 950)
	}
	f.clock.Add(25 * time.Hour)
	var total atomic.Int64
	var wg sync.WaitGroup
	for range 5 { // five instances run the expiry at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := f.s.Expire(ctx)
			if err != nil {
				t.Errorf("expire: %v", err)
			}
			total.Add(int64(n))
		}()
	}
	wg.Wait()
	if total.Load() != 10 {
		t.Fatalf("instances expired %d packets in all, want each of the 10 once", total.Load())
	}
	// The sender gets back everything but what account 950 grabbed.
	if b, g := f.wallet(t, 7), f.wallet(t, 950); b.Settled+g.Settled != 10_000 {
		t.Fatalf("sender %+v + grabber %+v != 10000", b, g)
	}
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

// TestGrabsRacingTheExpiry lets grabs and the expiry refund race over one packet: every fen
// ends up with exactly one of the grabbers or the sender.
func TestGrabsRacingTheExpiry(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	const total, count = 5000, 100
	f.rpFund(t, 8, total)
	p := f.rpSend(t, f.rpSendIn(8, total, count, Random, "race"))
	f.clock.Add(24*time.Hour - time.Millisecond)
	var wg sync.WaitGroup
	var won, finished atomic.Int64
	start := make(chan struct{})
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := f.s.Grab(ctx, p.ID, int64(2000+i))
			defer finished.Add(1)
			switch {
			case err == nil:
				won.Add(res.Amount)
			case errs.CodeOf(err) != errs.RedPacketExpired:
				t.Errorf("grab: %v, want success or RED_PACKET_EXPIRED", err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		for finished.Load() < count/5 { // let some grabs in first
			runtime.Gosched()
		}
		f.clock.Add(time.Millisecond)
		if _, err := f.s.Expire(ctx); err != nil {
			t.Errorf("expire: %v", err)
		}
	}()
	close(start)
	wg.Wait()
	if _, err := f.s.Expire(ctx); err != nil { // in case it ran before every grab's commit
		t.Fatal(err)
	}
	got := f.rpPacket(t, p.ID)
	if got.Status == "OPEN" || won.Load()+got.RefundedAmount != total {
		t.Fatalf("grabs won %d, refunded %d (status %s); want %d in all", won.Load(), got.RefundedAmount, got.Status, total)
	}
	if b := f.wallet(t, 8); b.Settled != got.RefundedAmount {
		t.Fatalf("sender has %d, refunded %d", b.Settled, got.RefundedAmount)
	}
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

// TestRedPacketsOnRedisCluster sends a packet and grabs it concurrently on a real
// three-node Redis Cluster: each packet's keys share one slot (the {id} hash tag), or the
// scripts that touch them would be refused.
func TestRedPacketsOnRedisCluster(t *testing.T) {
	f := setupWith(t, testworld.Options{Cluster: true}, Config{})
	ctx := context.Background()
	// Red packets: send and concurrent grabs, keys on one slot per packet.
	f.rpFund(t, 300, 1000)
	p, _, err := f.s.Send(ctx, SendInput{Live: f.live, ActID: 300, TotalAmount: 1000, Count: 10, Mode: Random, Greeting: "hi", RequestID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	var grabbed atomic.Int32
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := f.s.Grab(ctx, p.ID, int64(400+i))
			if err == nil {
				grabbed.Add(1)
				got.Add(g.Amount)
			} else if !errs.Is(err, errs.RedPacketEmpty) {
				t.Errorf("grab: %v", err)
			}
		}()
	}
	wg.Wait()
	if grabbed.Load() != 10 || got.Load() != 1000 {
		t.Fatalf("%d grabs took %d fen, want 10 taking 1000", grabbed.Load(), got.Load())
	}
	f.checkLedger(t)
	f.checkRedPacketEscrow(t)
}

type nopSettler struct{}

func (nopSettler) ForceSettle(context.Context, *activity.Live, int64) (wallet.SettleResult, error) {
	return wallet.SettleResult{}, nil
}

// TestNewRequiresEveryDependency: each missing dependency is an error that names it, and a
// zero Config field takes its default.
func TestNewRequiresEveryDependency(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr()}) // never dialled
	t.Cleanup(func() { rdb.Close() })
	full := func() Deps {
		return Deps{DB: &store.DB{}, Redis: rdb, Settler: nopSettler{}, Switches: switches.AllOn(), Now: time.Now,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	}
	for _, tc := range []struct {
		name  string
		unset func(*Deps)
	}{
		{"DB", func(d *Deps) { d.DB = nil }},
		{"Redis", func(d *Deps) { d.Redis = nil }},
		{"Settler", func(d *Deps) { d.Settler = nil }},
		{"Switches", func(d *Deps) { d.Switches = nil }},
		{"Now", func(d *Deps) { d.Now = nil }},
		{"Log", func(d *Deps) { d.Log = nil }},
	} {
		d := full()
		tc.unset(&d)
		s, err := New(d)
		if err == nil || s != nil {
			t.Errorf("New without %s = %v, %v; want an error", tc.name, s, err)
			continue
		}
		if !strings.Contains(err.Error(), " "+tc.name+" ") {
			t.Errorf("New without %s: %q does not name it", tc.name, err)
		}
	}
	s, err := New(full())
	if err != nil {
		t.Fatalf("New with every dependency: %v", err)
	}
	if s.cfg != DefaultConfig() {
		t.Errorf("zero Config became %+v, want the defaults %+v", s.cfg, DefaultConfig())
	}
	d := full()
	d.Config = Config{MaxTotal: 5000, TTL: time.Hour}
	if s, err = New(d); err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	if want := (Config{MaxTotal: 5000, TTL: time.Hour, ExpiryInterval: def.ExpiryInterval, WriteTimeout: def.WriteTimeout}); s.cfg != want {
		t.Errorf("partial Config became %+v, want %+v", s.cfg, want)
	}
}
