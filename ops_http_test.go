package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/wallet"
)

const withdrawMutation = `mutation($in: WithdrawInput!) { withdraw(input: $in) { replayed withdrawal { id amount status createdAt } wallet { balance settled pending } } }`

func (s *testServer) earn(t *testing.T, actID int64, amount int64) {
	t.Helper()
	issuer := mint(t, 1, "issuer")
	for rain := 1; amount > 0; rain++ {
		a := min(amount, 20_000)
		must(t, s.query(t, issuer, issueMutation, issueVars(actID, rain, a)))
		amount -= a
	}
}

func TestWithdrawOverHTTP(t *testing.T) {
	s := newTestServer(t)
	s.earn(t, 901, 3000)
	user := mint(t, 901)
	vars := map[string]any{"in": map[string]any{"activityId": demoParent, "amount": 1200, "requestId": "r-1"}}
	w := must(t, s.query(t, user, withdrawMutation, vars))["withdraw"].(map[string]any)
	wd := w["withdrawal"].(map[string]any)
	if w["replayed"] != false || wd["status"] != "PROCESSING" || num(wd["amount"]) != 1200 || num(w["wallet"].(map[string]any)["balance"]) != 1800 {
		t.Fatalf("withdraw = %v", w)
	}
	again := must(t, s.query(t, user, withdrawMutation, vars))["withdraw"].(map[string]any)
	if again["replayed"] != true || again["withdrawal"].(map[string]any)["id"] != wd["id"] {
		t.Fatalf("replay = %v", again)
	}
	q := `query($id: ID!) { withdrawal(id: $id) { id amount status createdAt } }`
	// The built-in provider pays within 30 s with its defaults.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := must(t, s.query(t, user, q, map[string]any{"id": wd["id"]}))["withdrawal"].(map[string]any)
		if got["status"] == "SUCCEEDED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("withdrawal still %v after 30 s", got["status"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if other := must(t, s.query(t, mint(t, 902), q, map[string]any{"id": wd["id"]})); other["withdrawal"] != nil {
		t.Fatalf("another account sees the withdrawal: %v", other)
	}
	cases := []struct {
		amount any
		code   string
	}{{9, "LIMIT_EXCEEDED"}, {500_001, "LIMIT_EXCEEDED"}, {5000, "INSUFFICIENT_BALANCE"}, {0, "BAD_USER_INPUT"}}
	for i, tc := range cases {
		vars := map[string]any{"in": map[string]any{"activityId": demoParent, "amount": tc.amount, "requestId": fmt.Sprint("bad-", i)}}
		wantErr(t, s.query(t, user, withdrawMutation, vars), tc.code)
	}
	wantErr(t, s.query(t, user, withdrawMutation, map[string]any{"in": map[string]any{"activityId": demoParent, "amount": 1300, "requestId": "r-1"}}), "IDEMPOTENCY_CONFLICT")
}

const feedQuery = `query($a: ID!, $first: Int!, $after: String) { walletFeed(activityId: $a, first: $first, after: $after) {
  edges { cursor node { id kind status amount occurredAt } } pageInfo { hasNextPage endCursor } degradedSources } }`

func TestFeedOverHTTP(t *testing.T) {
	s := newTestServer(t)
	s.earn(t, 911, 600)
	user := mint(t, 911)
	must(t, s.query(t, user, withdrawMutation, map[string]any{"in": map[string]any{"activityId": demoParent, "amount": 100, "requestId": "w"}}))
	var ids []string
	var after any
	for {
		c := must(t, s.query(t, user, feedQuery, map[string]any{"a": demoParent, "first": 1, "after": after}))["walletFeed"].(map[string]any)
		for _, e := range c["edges"].([]any) {
			n := e.(map[string]any)["node"].(map[string]any)
			ids = append(ids, n["id"].(string)+" "+n["kind"].(string))
		}
		pi := c["pageInfo"].(map[string]any)
		if pi["hasNextPage"] != true {
			break
		}
		after = pi["endCursor"]
	}
	if len(ids) != 2 || !strings.HasSuffix(ids[0], "WITHDRAWAL") || !strings.HasSuffix(ids[1], "REWARD") {
		t.Fatalf("feed walk = %v, want the withdrawal then the reward", ids)
	}
	wantErr(t, s.query(t, user, feedQuery, map[string]any{"a": demoParent, "first": 0}), "BAD_USER_INPUT")
	wantErr(t, s.query(t, user, feedQuery, map[string]any{"a": demoParent, "first": 101}), "BAD_USER_INPUT")
	wantErr(t, s.query(t, user, feedQuery, map[string]any{"a": demoParent, "first": 10, "after": "not-a-cursor"}), "BAD_USER_INPUT")
	// Three full pages in one document cost 3 × 100 × their selection: over the limit.
	big := `{ a: walletFeed(activityId: "spring-festival", first: 100) { edges { cursor node { id kind status amount occurredAt } } }
	          b: walletFeed(activityId: "spring-festival", first: 100) { edges { cursor node { id kind status amount occurredAt } } }
	          c: walletFeed(activityId: "spring-festival", first: 100) { edges { cursor node { id kind status amount occurredAt } } } }`
	r := post(t, s.URL+"/query", user, big, nil, "Accept", "application/graphql-response+json")
	if r.code() != "COMPLEXITY_LIMIT_EXCEEDED" || r.Status != 400 {
		t.Fatalf("got %d %q, want 400 COMPLEXITY_LIMIT_EXCEEDED: %s", r.Status, r.code(), r.Raw)
	}
}

func TestSwitchesOverHTTPAreAuditedAndTakeEffect(t *testing.T) {
	s := newTestServer(t)
	s.earn(t, 921, 500)
	user := mint(t, 921)
	set := `mutation($n: String!, $e: Boolean!, $r: String!) { setSwitch(name: $n, enabled: $e, reason: $r) { name enabled updatedAt updatedBy } }`
	wantErr(t, s.admin(t, mint(t, 7, "viewer"), set, map[string]any{"n": "withdraw", "e": false, "r": "x"}), "FORBIDDEN")
	wantErr(t, s.admin(t, mint(t, 7, "operator"), set, map[string]any{"n": "nope", "e": false, "r": "x"}), "NOT_FOUND")
	wantErr(t, s.admin(t, mint(t, 7, "operator"), set, map[string]any{"n": "withdraw", "e": false, "r": ""}), "BAD_USER_INPUT")
	for _, name := range []string{"withdraw", "feed.settlement"} {
		sw := must(t, s.admin(t, mint(t, 7, "operator"), set, map[string]any{"n": name, "e": false, "r": "incident 42"}))["setSwitch"].(map[string]any)
		if sw["enabled"] != false || sw["updatedBy"] != "7" || sw["updatedAt"] == nil {
			t.Fatalf("setSwitch = %v", sw)
		}
	}
	wantErr(t, s.query(t, user, withdrawMutation, map[string]any{"in": map[string]any{"activityId": demoParent, "amount": 9, "requestId": "d"}}), "DEGRADED")
	c := must(t, s.query(t, user, feedQuery, map[string]any{"a": demoParent, "first": 10}))["walletFeed"].(map[string]any)
	if d := c["degradedSources"].([]any); len(d) != 1 || d[0] != "SETTLEMENT" || len(c["edges"].([]any)) != 0 {
		t.Fatalf("feed with feed.settlement off = %v", c)
	}
	list := must(t, s.admin(t, mint(t, 7, "viewer"), `{ switches { name enabled description updatedAt updatedBy } configVersion }`, nil))
	if n := len(list["switches"].([]any)); n < 26 {
		t.Fatalf("%d switches listed, want at least 26", n)
	}
	log := must(t, s.admin(t, mint(t, 7, "viewer"), `{ auditLog(first: 10) { edges { node { actor action target before after reason at } } pageInfo { hasNextPage } } }`, nil))
	edges := log["auditLog"].(map[string]any)["edges"].([]any)
	if len(edges) < 2 {
		t.Fatalf("audit log = %v", log)
	}
	newest := edges[0].(map[string]any)["node"].(map[string]any)
	if newest["actor"] != "7" || newest["action"] != "setSwitch" || newest["target"] != "feed.settlement" ||
		newest["before"] != `{"enabled":true}` || newest["after"] != `{"enabled":false}` || newest["reason"] != "incident 42" {
		t.Fatalf("newest audit entry = %v", newest)
	}
	wantErr(t, s.admin(t, mint(t, 7, "viewer"), `{ auditLog(first: 0) { edges { cursor } } }`, nil), "BAD_USER_INPUT")
	// The playground switch hides the playgrounds.
	must(t, s.admin(t, mint(t, 7, "operator"), set, map[string]any{"n": "playground", "e": false, "r": "production"}))
	waitStatus(t, s.URL+"/playground/", 404, 2*time.Second)
}

func TestEverySwitchTheCodeChecksIsDeclared(t *testing.T) {
	declared := map[string]bool{}
	for _, d := range switches.Defs {
		declared[d.Name] = true
	}
	for _, name := range append(wallet.SwitchNames(), switches.Playground, switches.Announcements) {
		if !declared[name] {
			t.Errorf("switch %s is checked by the code but not declared", name)
		}
	}
	if len(switches.Defs) < 26 {
		t.Fatalf("%d switches, want at least 26", len(switches.Defs))
	}
	_ = strconv.Itoa
}

func TestBudgetsOverHTTP(t *testing.T) {
	s := newTestServer(t)
	adm := mint(t, 1, "admin")
	scene := `mutation($in: SceneInput!) { upsertScene(input: $in) { id } }`
	must(t, s.admin(t, adm, scene, map[string]any{"in": map[string]any{"id": "tiny", "activityId": demoParent, "awardType": "CASH", "budgetTotal": 100, "reserveRatio": 0.1}}))
	issuer := mint(t, 1, "issuer")
	in := func(act int64, amount int) map[string]any {
		return map[string]any{"in": map[string]any{"actId": act, "appId": 1, "activityId": demoParent, "sceneId": "tiny", "rainId": 1, "awardType": "CASH", "stage": 0, "amount": amount}}
	}
	must(t, s.query(t, issuer, issueMutation, in(1, 90)))
	wantErr(t, s.query(t, issuer, issueMutation, in(2, 1)), "BUDGET_EXHAUSTED")
	// A replay of the accepted order still answers, budget or not.
	if r := must(t, s.query(t, issuer, issueMutation, in(1, 90)))["issueReward"].(map[string]any); r["replayed"] != true {
		t.Fatalf("replay = %v", r)
	}
	for _, id := range []string{demoParent, demoChild} {
		b := must(t, s.admin(t, mint(t, 1, "viewer"), `query($a: ID!) { budgets(activityId: $a) { sceneId total issued remaining reserveRatio exhausted } }`, map[string]any{"a": id}))
		var tiny map[string]any
		for _, x := range b["budgets"].([]any) {
			if x.(map[string]any)["sceneId"] == "tiny" {
				tiny = x.(map[string]any)
			}
		}
		if tiny == nil || num(tiny["issued"]) != 90 || num(tiny["remaining"]) != 10 || tiny["exhausted"] != true || tiny["reserveRatio"] != 0.1 {
			t.Fatalf("budgets(%s) tiny = %v", id, tiny)
		}
	}
}

func TestActivityStatsCatchUp(t *testing.T) {
	s := newTestServer(t)
	s.earn(t, 931, 1000) // one cash reward of 1000
	issuer := mint(t, 1, "issuer")
	coupon := map[string]any{"in": map[string]any{"actId": 932, "appId": 2, "activityId": demoParent, "sceneId": "coupon-gala", "rainId": 1, "awardType": "COUPON", "stage": 0, "amount": 300}}
	must(t, s.query(t, issuer, issueMutation, coupon))
	must(t, s.query(t, mint(t, 931), withdrawMutation, map[string]any{"in": map[string]any{"activityId": demoParent, "amount": 400, "requestId": "s"}}))
	q := `{ activityStats(activityId: "spring-festival") { issuedAmount issuedCount settledAmount pendingAmount withdrawnAmount } }`
	start := time.Now()
	for {
		st := must(t, s.admin(t, mint(t, 1, "viewer"), q, nil))["activityStats"].(map[string]any)
		if num(st["issuedAmount"]) == 1300 && num(st["issuedCount"]) == 2 && num(st["settledAmount"]) == 1000 &&
			num(st["pendingAmount"]) == 0 && num(st["withdrawnAmount"]) == 400 {
			break
		}
		if time.Since(start) > 3*time.Second {
			t.Fatalf("activityStats = %v, not caught up within 3 s", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
