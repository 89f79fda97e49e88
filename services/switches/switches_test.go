package switches

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/ent/auditentry"
	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/services/auth"
	"github.com/springwallet/wallet/services/errs"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func operatorCtx(actID int64) context.Context {
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{ActID: actID, Roles: []string{auth.RoleOperator}}, nil)
	return auth.WithRequestID(ctx, "req-1")
}

func TestAtLeast26DeclaredSwitchesWithDescriptions(t *testing.T) {
	if len(Defs) < 26 {
		t.Fatalf("%d switches declared, want at least 26", len(Defs))
	}
	seen := map[Name]bool{}
	for _, d := range Defs {
		if seen[d.Name] {
			t.Fatalf("switch %s declared twice", d.Name)
		}
		seen[d.Name] = true
		if d.Description == "" || (d.Category != Kill && d.Category != Operational) {
			t.Fatalf("switch %+v lacks a description or category", d)
		}
	}
	for _, name := range []Name{"feed.settlement", "feed.withdrawal", "feed.redpacket", "withdraw"} {
		if !seen[name] {
			t.Fatalf("the contract's switch %s is not declared", name)
		}
	}
}

func TestSetIsAuditedAndPropagatesBetweenInstances(t *testing.T) {
	db := testenv.SQLite(t)
	rdb := testenv.Redis(t, testenv.DBSwitches)
	one := New(db, rdb, quiet(), time.Now)
	two := New(db, rdb, quiet(), time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go one.Run(ctx)
	go two.Run(ctx)
	time.Sleep(100 * time.Millisecond) // let the subscriptions start

	start := time.Now()
	st, err := one.Set(operatorCtx(4242), "withdraw", false, "payout provider incident")
	if err != nil {
		t.Fatal(err)
	}
	if st.Enabled || st.UpdatedBy != "4242" || st.Reason != "payout provider incident" {
		t.Fatalf("state = %+v", st)
	}
	for two.Enabled("withdraw") {
		if time.Since(start) > time.Second {
			t.Fatal("the other instance did not follow within 1 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if two.Version() == 0 {
		t.Fatal("the other instance reports no config version")
	}
	e, err := db.R.AuditEntry.Query().Where(auditentry.Target("withdraw")).Only(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if e.Actor != "4242" || e.Action != "setSwitch" || e.Reason != "payout provider incident" || e.RequestID != "req-1" {
		t.Fatalf("audit entry = %+v", e)
	}
	var before, after map[string]bool
	if json.Unmarshal([]byte(e.Before), &before) != nil || json.Unmarshal([]byte(e.After), &after) != nil || !before["enabled"] || after["enabled"] {
		t.Fatalf("audit before/after = %s / %s", e.Before, e.After)
	}
	if _, err := db.W.AuditEntry.Delete().Exec(context.Background()); err == nil {
		t.Fatal("an audit entry was deleted")
	}
}

func TestRefusesUnknownSwitchesAndMissingReasons(t *testing.T) {
	b := New(testenv.SQLite(t), testenv.Redis(t, testenv.DBSwitches), quiet(), time.Now)
	if _, err := b.Set(operatorCtx(1), "no.such.switch", false, "x"); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("unknown switch: %v", err)
	}
	if _, err := b.Set(operatorCtx(1), "withdraw", false, ""); errs.CodeOf(err) != errs.BadUserInput {
		t.Fatalf("no reason: %v", err)
	}
	if !b.Enabled("withdraw") {
		t.Fatal("a refused change took effect")
	}
}

func TestRedisAwayKeepsLastKnownStateAndDatabaseStillPropagates(t *testing.T) {
	db := testenv.SQLite(t)
	rdb := testenv.Redis(t, testenv.DBSwitches)
	writer := New(db, rdb, quiet(), time.Now)
	if _, err := writer.Set(operatorCtx(1), "feed.redpacket", false, "load"); err != nil {
		t.Fatal(err)
	}
	// An instance that cannot reach Redis: it loads from the database and keeps what it knows.
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 20 * time.Millisecond})
	defer dead.Close()
	reader := New(db, dead, quiet(), time.Now)
	if err := reader.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if reader.Enabled("feed.redpacket") {
		t.Fatal("the stored state was not loaded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go reader.Run(ctx)
	time.Sleep(600 * time.Millisecond)
	if reader.Enabled("feed.redpacket") {
		t.Fatal("the instance lost its state when Redis was away")
	}
	// A change made meanwhile still arrives through the database poll.
	if _, err := writer.Set(operatorCtx(1), "feed.redpacket", true, "recovered"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(8 * time.Second)
	for !reader.Enabled("feed.redpacket") {
		if time.Now().After(deadline) {
			t.Fatal("the change never reached the instance without Redis")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := reader.List(); len(got) != len(Defs) {
		t.Fatalf("List has %d switches, want %d", len(got), len(Defs))
	}
}
