package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/springwallet/wallet/ratelimit"
	"github.com/springwallet/wallet/services/auth"
	"github.com/springwallet/wallet/services/switches"
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
	declared := map[switches.Name]bool{}
	for _, d := range switches.Defs {
		declared[d.Name] = true
	}
	// Every switch the code checks is a switches.Name constant (services/switches proves each
	// constant is declared); these are the ones the HTTP layer and the console rely on.
	checked := []switches.Name{switches.Playground, switches.Announcements, switches.APQ, switches.CostReport,
		switches.FeedSettlement, switches.FeedWithdrawal, switches.FeedRedPacket, switches.Withdraw}
	for app := 1; app <= switches.Apps; app++ {
		checked = append(checked, switches.IssuanceApp(app))
	}
	for _, name := range checked {
		if !declared[name] {
			t.Errorf("switch %s is checked by the code but not declared", name)
		}
	}
	if len(switches.Defs) < 26 {
		t.Fatalf("%d switches, want at least 26", len(switches.Defs))
	}
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
	// The same totals are exported for dashboards and alerts.
	for _, want := range []string{`wallet_issued_amount_fen{activity="spring-festival-prod"} 1300`, `wallet_issued_rewards{activity="spring-festival-prod"} 2`, "wallet_switch_config_version "} {
		deadline := time.Now().Add(3 * time.Second)
		for !strings.Contains(s.metrics(t), want) {
			if time.Now().After(deadline) {
				t.Fatalf("metrics lack %s", want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func (s *testServer) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestRateLimitOverHTTP(t *testing.T) {
	s := newTestServer(t)
	s.app.limits.Mutation = ratelimit.PerSecond(1, 3)
	q := `mutation { forceSettle(activityId: "spring-festival") { settledCount } }`
	var limited *gqlResponse
	for range 10 {
		r := s.query(t, mint(t, 941), q, nil)
		if r.Status == 429 {
			limited = r
			break
		}
		must(t, r)
	}
	if limited == nil {
		t.Fatal("ten mutations a moment apart were all allowed past a burst of 3")
	}
	wantErr(t, limited, "RATE_LIMITED")
	if ms, _ := limited.Errors[0].Extensions["retryAfterMs"].(float64); ms <= 0 {
		t.Fatalf("retryAfterMs = %v", limited.Errors[0].Extensions["retryAfterMs"])
	}
	if ra, err := strconv.Atoi(limited.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After = %q", limited.Header.Get("Retry-After"))
	}
	for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
		if limited.Header.Get(h) == "" {
			t.Fatalf("429 without %s", h)
		}
	}
	// Another account is unaffected, and the limited account may still read.
	must(t, s.query(t, mint(t, 942), q, nil))
	must(t, s.query(t, mint(t, 941), walletQuery, map[string]any{"a": demoParent}))
}

func TestSceneRateLimitOverHTTP(t *testing.T) {
	s := newTestServer(t)
	adm := mint(t, 1, "admin")
	must(t, s.admin(t, adm, `mutation { upsertScene(input: {id: "slow", activityId: "spring-festival", awardType: CASH, budgetTotal: 1000000, ratePerSecond: 1}) { id } }`, nil))
	issuer := mint(t, 1, "issuer")
	var limited *gqlResponse
	for i := range 5 {
		vars := map[string]any{"in": map[string]any{"actId": 950 + i, "appId": 1, "activityId": demoParent, "sceneId": "slow", "rainId": 1, "awardType": "CASH", "stage": 0, "amount": 1}}
		if r := s.query(t, issuer, issueMutation, vars); r.code() == "RATE_LIMITED" {
			limited = r
			break
		}
	}
	if limited == nil || limited.Status != 429 || limited.Header.Get("Retry-After") == "" {
		t.Fatalf("scene at 1/s: no 429 in five quick issuances: %+v", limited)
	}
}

func TestAnnouncementsTargetingWindowsAndSwitch(t *testing.T) {
	s := newTestServer(t)
	op := mint(t, 5, "operator")
	now := time.Now().UTC()
	create := `mutation($in: AnnouncementInput!) { createAnnouncement(input: $in) { id appIds priority } }`
	in := func(title string, apps []int, from, to time.Time, prio int) map[string]any {
		return map[string]any{"in": map[string]any{"activityId": demoParent, "appIds": apps, "title": title, "body": "b",
			"startsAt": from.Format(time.RFC3339), "endsAt": to.Format(time.RFC3339), "priority": prio}}
	}
	wantErr(t, s.admin(t, mint(t, 5, "viewer"), create, in("x", []int{}, now, now.Add(time.Hour), 0)), "FORBIDDEN")
	wantErr(t, s.admin(t, op, create, in("", []int{}, now, now.Add(time.Hour), 0)), "BAD_USER_INPUT")
	wantErr(t, s.admin(t, op, create, in("x", []int{9}, now, now.Add(time.Hour), 0)), "BAD_USER_INPUT")
	low := must(t, s.admin(t, op, create, in("for app 1", []int{1}, now.Add(-time.Minute), now.Add(time.Hour), 1)))["createAnnouncement"].(map[string]any)
	must(t, s.admin(t, op, create, in("for everyone", []int{}, now.Add(-time.Minute), now.Add(time.Hour), 5)))
	must(t, s.admin(t, op, create, in("later", []int{}, now.Add(time.Hour), now.Add(2*time.Hour), 9)))
	must(t, s.admin(t, op, create, in("over", []int{}, now.Add(-2*time.Hour), now.Add(-time.Hour), 9)))
	titles := func(appID int) []string {
		tok, _ := auth.Mint(testSecret, 77, appID, nil, time.Hour)
		list := must(t, s.query(t, tok, `{ announcements(activityId: "spring-festival") { id title body } }`, nil))["announcements"].([]any)
		var out []string
		for _, a := range list {
			out = append(out, a.(map[string]any)["title"].(string))
		}
		return out
	}
	deadline := time.Now().Add(5 * time.Second)
	for fmt.Sprint(titles(1)) != "[for everyone for app 1]" {
		if time.Now().After(deadline) {
			t.Fatalf("app 1 sees %v, want [for everyone for app 1] within 5 s", titles(1))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := fmt.Sprint(titles(2)); got != "[for everyone]" {
		t.Fatalf("app 2 sees %s", got)
	}
	// Deleting is audited with its reason and takes the announcement away.
	must(t, s.admin(t, op, `mutation($id: ID!) { deleteAnnouncement(id: $id, reason: "typo") }`, map[string]any{"id": low["id"]}))
	deadline = time.Now().Add(5 * time.Second)
	for fmt.Sprint(titles(1)) != "[for everyone]" {
		if time.Now().After(deadline) {
			t.Fatalf("deleted announcement still shown: %v", titles(1))
		}
		time.Sleep(100 * time.Millisecond)
	}
	log := must(t, s.admin(t, op, `{ auditLog(first: 1, action: "deleteAnnouncement") { edges { node { target reason before after } } } }`, nil))
	e := log["auditLog"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)
	if e["target"] != low["id"] || e["reason"] != "typo" || !strings.Contains(e["before"].(string), "for app 1") {
		t.Fatalf("audit entry = %v", e)
	}
	// Switched off: an empty list, never an error.
	must(t, s.admin(t, op, `mutation { setSwitch(name: "announcements", enabled: false, reason: "quiet") { enabled } }`, nil))
	if got := titles(1); len(got) != 0 {
		t.Fatalf("announcements switched off, still shown: %v", got)
	}
}

func TestReadmeListsEverySwitch(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range switches.Defs {
		name := string(d.Name)
		if strings.HasPrefix(name, "issuance.app.") {
			name = "issuance.app.1` … `issuance.app.8"
		}
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README does not list switch %s", d.Name)
		}
	}
}

func TestCircuitBreakersAndPerUserCapOnTheAdminSchema(t *testing.T) {
	s := newTestServer(t)
	must(t, s.query(t, mint(t, 981), feedQuery, map[string]any{"a": demoParent, "first": 5}))
	cb := must(t, s.admin(t, mint(t, 1, "viewer"), `{ circuitBreakers { name state requests consecutiveFailures totalFailures } }`, nil))["circuitBreakers"].([]any)
	names := map[string]string{}
	for _, b := range cb {
		m := b.(map[string]any)
		names[m["name"].(string)] = m["state"].(string)
	}
	if names["feed.settlement"] != "closed" || names["feed.withdrawal"] != "closed" || names["feed.redpacket"] != "closed" || len(names) != 3 {
		t.Fatalf("circuit breakers = %v", cb)
	}
	now := time.Now().UTC()
	act := must(t, s.admin(t, mint(t, 1, "admin"), `mutation($in: ActivityInput!) { upsertActivity(input: $in) { id perUserCap } }`,
		map[string]any{"in": map[string]any{"id": demoChild, "name": "prod", "parentId": demoParent, "phase": "PRODUCTION",
			"startsAt": now.Add(-time.Hour).Format(time.RFC3339), "endsAt": now.Add(time.Hour).Format(time.RFC3339), "perUserCap": 150}}))["upsertActivity"].(map[string]any)
	if num(act["perUserCap"]) != 150 {
		t.Fatalf("upsertActivity = %v", act)
	}
	issuer := mint(t, 1, "issuer")
	must(t, s.query(t, issuer, issueMutation, issueVars(982, 1, 100)))
	wantErr(t, s.query(t, issuer, issueMutation, issueVars(982, 2, 100)), "LIMIT_EXCEEDED")
	must(t, s.query(t, issuer, issueMutation, issueVars(982, 2, 50)))
}
