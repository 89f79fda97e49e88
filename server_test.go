package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/springwallet/wallet/internal/testenv"
	"github.com/springwallet/wallet/services/auth"
)

const testSecret = "test-secret-for-http-tests"

type testServer struct {
	*httptest.Server
	app *app
	// clock is the server's one clock: wall time plus an offset a test may move forward.
	clock *testClock
}

// testClock runs with the wall clock (background work keeps its pace) and can jump ahead, so
// a test crosses a time boundary without waiting for it.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the server's time.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the server's time forward by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// newTestServer runs the whole service against real Redis (its own database) and a fresh
// SQLite file, with the demo activity seeded.
// serverOnPostgres makes newTestServer use a fresh PostgreSQL database (TestServerOnPostgres).
var serverOnPostgres bool

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	return newTestServerWith(t, nil)
}

// newTestServerWith is newTestServer with its configuration changed by edit first.
func newTestServerWith(t testing.TB, edit func(*config)) *testServer {
	t.Helper()
	testenv.Redis(t, testenv.DBServer) // empties the database
	dbURL := testenv.SQLiteURL(t)
	if serverOnPostgres {
		dbURL = testenv.PostgresDatabase(t)
	}
	clk := &testClock{}
	cfg := config{DatabaseURL: dbURL, RedisURL: testenv.RedisURL(testenv.DBServer), JWTSecret: testSecret, DataDir: t.TempDir(), Seed: true,
		Now: clk.Now}
	if edit != nil {
		edit(&cfg)
	}
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.start(context.Background())
	srv := httptest.NewServer(a.handler())
	t.Cleanup(func() { srv.Close(); a.close() })
	return &testServer{Server: srv, app: a, clock: clk}
}

func mint(t testing.TB, actID int64, roles ...string) string {
	t.Helper()
	tok, err := auth.Mint(testSecret, actID, 1, roles, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type gqlResponse struct {
	Status int
	Header http.Header
	Data   map[string]any
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
	Raw string
}

func (r *gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func post(t testing.TB, url, token, query string, vars map[string]any, header ...string) *gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &gqlResponse{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	return out
}

func (s *testServer) query(t testing.TB, token, q string, vars map[string]any) *gqlResponse {
	t.Helper()
	return post(t, s.URL+"/query", token, q, vars)
}

func (s *testServer) admin(t testing.TB, token, q string, vars map[string]any) *gqlResponse {
	t.Helper()
	return post(t, s.URL+"/admin/query", token, q, vars)
}

func must(t testing.TB, r *gqlResponse) map[string]any {
	t.Helper()
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		t.Fatalf("unexpected errors (%d): %s", r.Status, r.Raw)
	}
	return r.Data
}

func wantErr(t testing.TB, r *gqlResponse, code string) {
	t.Helper()
	if r.code() != code {
		t.Fatalf("got code %q, want %s: %s", r.code(), code, r.Raw)
	}
}

const issueMutation = `mutation($in: IssueRewardInput!) { issueReward(input: $in) { orderNo token status replayed } }`
const walletQuery = `query($a: ID!) { wallet(activityId: $a) { balance settled pending cumulativeIncome activity { id phase } } }`

func issueVars(actID int64, rain int, amount any) map[string]any {
	return map[string]any{"in": map[string]any{
		"actId": actID, "appId": 1, "activityId": demoParent, "sceneId": "cash-rain", "rainId": rain,
		"awardType": "CASH", "stage": 0, "amount": amount,
	}}
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func TestIssueSeeAndSettleOverHTTP(t *testing.T) {
	s := newTestServer(t)
	issuer, user := mint(t, 1, "issuer"), mint(t, 501)
	d := must(t, s.query(t, issuer, issueMutation, issueVars(501, 1, 1888)))
	ir := d["issueReward"].(map[string]any)
	if ir["orderNo"] != "501_cash-rain_1_CASH_0" || ir["status"] != "PENDING" || ir["replayed"] != false || ir["token"] == nil {
		t.Fatalf("issueReward = %v", ir)
	}
	replay := must(t, s.query(t, issuer, issueMutation, issueVars(501, 1, 1888)))["issueReward"].(map[string]any)
	if replay["replayed"] != true || replay["token"] != ir["token"] {
		t.Fatalf("replay = %v", replay)
	}
	wantErr(t, s.query(t, issuer, issueMutation, issueVars(501, 1, 1889)), "IDEMPOTENCY_CONFLICT")

	w := must(t, s.query(t, user, walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any)
	if num(w["balance"]) != 1888 || num(w["balance"]) != num(w["settled"])+num(w["pending"]) {
		t.Fatalf("wallet = %v", w)
	}
	if a := w["activity"].(map[string]any); a["id"] != demoChild || a["phase"] != "PRODUCTION" {
		t.Fatalf("wallet activity = %v, want the live child", a)
	}
	fs := must(t, s.query(t, user, `mutation($a: ID!) { forceSettle(activityId: $a) { settledCount settledAmount wallet { balance settled pending } } }`,
		map[string]any{"a": demoParent}))["forceSettle"].(map[string]any)
	fw := fs["wallet"].(map[string]any)
	if num(fw["settled"]) != 1888 || num(fw["pending"]) != 0 {
		t.Fatalf("forceSettle = %v", fs)
	}
	has := must(t, s.query(t, user, `{ hasReward(activityId: "spring-festival", sceneId: "cash-rain") }`, nil))
	if has["hasReward"] != true {
		t.Fatalf("hasReward = %v", has)
	}
	hasNot := must(t, s.query(t, mint(t, 502), `{ hasReward(activityId: "spring-festival", sceneId: "cash-rain") }`, nil))
	if hasNot["hasReward"] != false {
		t.Fatalf("hasReward for another user = %v", hasNot)
	}
	// The worker settles on its own too (within 10 s when idle).
	must(t, s.query(t, issuer, issueMutation, issueVars(503, 1, 100)))
	deadline := time.Now().Add(10 * time.Second)
	for {
		w := must(t, s.query(t, mint(t, 503), walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any)
		if num(w["settled"]) == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled by the worker within 10 s: %v", w)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEmptyWalletIsZero(t *testing.T) {
	s := newTestServer(t)
	w := must(t, s.query(t, mint(t, 9999), walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any)
	for _, k := range []string{"balance", "settled", "pending", "cumulativeIncome"} {
		if num(w[k]) != 0 {
			t.Fatalf("%s = %v for an account with nothing", k, w[k])
		}
	}
}

func TestBadInputIsCoded(t *testing.T) {
	s := newTestServer(t)
	issuer := mint(t, 1, "issuer")
	mod := func(k string, v any) map[string]any {
		vars := issueVars(601, 1, 100)
		vars["in"].(map[string]any)[k] = v
		return vars
	}
	cases := []struct {
		name string
		vars map[string]any
		code string
	}{
		{"zero amount", mod("amount", 0), "BAD_USER_INPUT"},
		{"negative amount", mod("amount", -5), "BAD_USER_INPUT"},
		{"fractional amount", mod("amount", 1.5), "BAD_USER_INPUT"},
		{"amount as text", mod("amount", "100"), "BAD_USER_INPUT"},
		{"scene id with _", mod("sceneId", "cash_rain"), "BAD_USER_INPUT"},
		{"unknown scene", mod("sceneId", "nope"), "NOT_FOUND"},
		{"unknown activity", mod("activityId", "nope"), "NOT_FOUND"},
		{"app 9", mod("appId", 9), "BAD_USER_INPUT"},
		{"over the per-transaction limit", mod("amount", 20_001), "LIMIT_EXCEEDED"},
		{"award type of another scene", mod("awardType", "COUPON"), "BAD_USER_INPUT"},
		{"unknown award type", mod("awardType", "GOLD"), "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, s.query(t, issuer, issueMutation, tc.vars), tc.code)
		})
	}
	// Nothing of the refused requests reached the wallet.
	w := must(t, s.query(t, mint(t, 601), walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any)
	if num(w["balance"]) != 0 {
		t.Fatalf("refused issuances changed the wallet: %v", w)
	}
}

func TestAuthenticationAndRoles(t *testing.T) {
	s := newTestServer(t)
	expired, _ := auth.Mint(testSecret, 1, 1, nil, -time.Hour)
	foreign, _ := auth.Mint("another-secret", 1, 1, nil, time.Hour)
	wq := `{ wallet(activityId: "spring-festival") { balance } }`
	cases := []struct {
		name, url, token, query, code string
	}{
		{"typename needs no token", "/query", "", `{ __typename }`, ""},
		{"admin typename needs no token", "/admin/query", "", `{ __typename }`, ""},
		{"no token", "/query", "", wq, "UNAUTHENTICATED"},
		{"garbage token", "/query", "garbage", wq, "UNAUTHENTICATED"},
		{"expired token", "/query", expired, wq, "UNAUTHENTICATED"},
		{"token signed with another secret", "/query", foreign, wq, "UNAUTHENTICATED"},
		{"user reads own wallet", "/query", mint(t, 1), wq, ""},
		{"issuer cannot read a wallet", "/query", mint(t, 1, "issuer"), wq, "FORBIDDEN"},
		{"user cannot issue", "/query", mint(t, 1), `mutation { issueReward(input: {actId: 1, appId: 1, activityId: "spring-festival", sceneId: "cash-rain", rainId: 1, awardType: CASH, stage: 0, amount: 1}) { orderNo } }`, "FORBIDDEN"},
		{"user cannot use the admin schema", "/admin/query", mint(t, 1), `{ activities { id } }`, "FORBIDDEN"},
		{"viewer lists activities", "/admin/query", mint(t, 1, "viewer"), `{ activities { id } }`, ""},
		{"viewer cannot upsert", "/admin/query", mint(t, 1, "viewer"), `mutation { upsertActivity(input: {id: "x", name: "x", phase: GRAY, startsAt: "2027-01-01T00:00:00Z", endsAt: "2027-02-01T00:00:00Z"}) { id } }`, "FORBIDDEN"},
		{"operator cannot upsert", "/admin/query", mint(t, 1, "operator"), `mutation { upsertScene(input: {id: "x", activityId: "spring-festival", awardType: CASH, budgetTotal: 1}) { id } }`, "FORBIDDEN"},
		{"admin upserts", "/admin/query", mint(t, 1, "admin"), `mutation { upsertActivity(input: {id: "x", name: "x", phase: GRAY, startsAt: "2027-01-01T00:00:00Z", endsAt: "2027-02-01T00:00:00Z"}) { id } }`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, s.URL+tc.url, tc.token, tc.query, nil)
			if r.code() != tc.code {
				t.Fatalf("code %q, want %q: %s", r.code(), tc.code, r.Raw)
			}
		})
	}
}

func TestRedeemTokenOverHTTP(t *testing.T) {
	s := newTestServer(t)
	issuer := mint(t, 1, "issuer")
	tok := must(t, s.query(t, issuer, issueMutation, issueVars(701, 2, 321)))["issueReward"].(map[string]any)["token"].(string)
	q := `mutation($t: String!) { redeemToken(token: $t) { orderNo replayed status } }`
	r := must(t, s.query(t, mint(t, 701), q, map[string]any{"t": tok}))["redeemToken"].(map[string]any)
	if r["replayed"] != true || r["orderNo"] != "701_cash-rain_2_CASH_0" {
		t.Fatalf("redeem of a known token = %v", r)
	}
	wantErr(t, s.query(t, mint(t, 702), q, map[string]any{"t": tok}), "FORBIDDEN")
	wantErr(t, s.query(t, mint(t, 701), q, map[string]any{"t": "x.y.z"}), "BAD_USER_INPUT")
	// An issuer may redeem any account's token.
	must(t, s.query(t, issuer, q, map[string]any{"t": tok}))
}

func TestJWKSVerifiesIssuedTokens(t *testing.T) {
	s := newTestServer(t)
	resp, err := http.Get(s.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks = %+v, %v", set, err)
	}
	if k := set.Keys[0]; k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["x"] == "" {
		t.Fatalf("jwks key = %v", k)
	}
}

func TestGraphQLOverHTTPStatusCodes(t *testing.T) {
	s := newTestServer(t)
	cases := []struct {
		name, accept, query string
		status              int
		ctype, code         string
	}{
		{"parse error, json", "application/json", `{ wallet(`, 200, "application/json", "GRAPHQL_PARSE_FAILED"},
		{"parse error, graphql-response+json", "application/graphql-response+json", `{ wallet(`, 400, "application/graphql-response+json", "GRAPHQL_PARSE_FAILED"},
		{"validation error, json", "application/json", `{ nope }`, 200, "application/json", "GRAPHQL_VALIDATION_FAILED"},
		{"validation error, graphql-response+json", "application/graphql-response+json", `{ nope }`, 400, "application/graphql-response+json", "GRAPHQL_VALIDATION_FAILED"},
		{"field error, graphql-response+json", "application/graphql-response+json", `{ wallet(activityId: "spring-festival") { balance } }`, 200, "application/graphql-response+json", "UNAUTHENTICATED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, s.URL+"/query", "", tc.query, nil, "Accept", tc.accept)
			if r.Status != tc.status || !strings.HasPrefix(r.Header.Get("Content-Type"), tc.ctype) || r.code() != tc.code {
				t.Fatalf("got %d %s %q, want %d %s %s: %s", r.Status, r.Header.Get("Content-Type"), r.code(), tc.status, tc.ctype, tc.code, r.Raw)
			}
		})
	}
	// Queries also work over GET.
	resp, err := http.Get(s.URL + "/query?query=" + "%7B__typename%7D")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"__typename":"Query"`) {
		t.Fatalf("GET: %d %s", resp.StatusCode, body)
	}
}

func TestInternalErrorsHideDetails(t *testing.T) {
	s := newTestServer(t)
	s.app.db.Close() // the database goes away under the service
	r := s.query(t, mint(t, 1), `{ wallet(activityId: "spring-festival") { balance } }`, nil)
	if r.code() != "INTERNAL" {
		t.Fatalf("want INTERNAL when the database is gone: %s", r.Raw)
	}
	id, _ := r.Errors[0].Extensions["requestId"].(string)
	if id == "" {
		t.Fatalf("INTERNAL without requestId: %s", r.Raw)
	}
	for _, leak := range []string{"sql", "database", ".go", "goroutine"} {
		if strings.Contains(strings.ToLower(r.Errors[0].Message), leak) {
			t.Fatalf("INTERNAL message leaks %q: %s", leak, r.Raw)
		}
	}
}

func TestAdminConfiguresIssuance(t *testing.T) {
	s := newTestServer(t)
	adm := mint(t, 1, "admin")
	now := time.Now().UTC()
	act := `mutation($in: ActivityInput!) { upsertActivity(input: $in) { id parentId phase startsAt endsAt } }`
	must(t, s.admin(t, adm, act, map[string]any{"in": map[string]any{"id": "gala", "name": "Gala", "phase": "PRODUCTION",
		"startsAt": now.Add(-time.Hour).Format(time.RFC3339), "endsAt": now.Add(time.Hour).Format(time.RFC3339)}}))
	child := must(t, s.admin(t, adm, act, map[string]any{"in": map[string]any{"id": "gala-gray", "name": "Gala gray", "parentId": "gala", "phase": "GRAY",
		"startsAt": now.Add(-time.Hour).Format(time.RFC3339), "endsAt": now.Add(time.Hour).Format(time.RFC3339)}}))["upsertActivity"].(map[string]any)
	if child["parentId"] != "gala" || child["phase"] != "GRAY" {
		t.Fatalf("child = %v", child)
	}
	scene := `mutation($in: SceneInput!) { upsertScene(input: $in) { id activityId awardType perTxnLimit budgetTotal reserveRatio ratePerSecond } }`
	sc := must(t, s.admin(t, adm, scene, map[string]any{"in": map[string]any{"id": "fireworks", "activityId": "gala", "awardType": "CASH", "perTxnLimit": 500, "budgetTotal": 100000}}))["upsertScene"].(map[string]any)
	if sc["reserveRatio"] != 0.1 || num(sc["budgetTotal"]) != 100000 {
		t.Fatalf("scene = %v, want the default 0.10 reserve", sc)
	}
	// The same scene id on the child of a parent that defines it is refused.
	wantErr(t, s.admin(t, adm, scene, map[string]any{"in": map[string]any{"id": "fireworks", "activityId": "gala-gray", "awardType": "CASH", "budgetTotal": 1}}), "BAD_USER_INPUT")
	wantErr(t, s.admin(t, adm, act, map[string]any{"in": map[string]any{"id": "bad_id", "name": "x", "phase": "GRAY",
		"startsAt": now.Format(time.RFC3339), "endsAt": now.Add(time.Hour).Format(time.RFC3339)}}), "BAD_USER_INPUT")
	wantErr(t, s.admin(t, adm, act, map[string]any{"in": map[string]any{"id": "backwards", "name": "x", "phase": "GRAY",
		"startsAt": now.Format(time.RFC3339), "endsAt": now.Add(-time.Hour).Format(time.RFC3339)}}), "BAD_USER_INPUT")
	// The new scene takes issuance at once, through the parent, into the live child.
	vars := map[string]any{"in": map[string]any{"actId": 801, "appId": 3, "activityId": "gala", "sceneId": "fireworks", "rainId": 0, "awardType": "CASH", "stage": 1, "amount": 500}}
	must(t, s.query(t, mint(t, 1, "issuer"), issueMutation, vars))
	w := must(t, s.query(t, mint(t, 801), walletQuery, map[string]any{"a": "gala"}))["wallet"].(map[string]any)
	if num(w["balance"]) != 500 || w["activity"].(map[string]any)["id"] != "gala-gray" {
		t.Fatalf("wallet = %v", w)
	}
	vars["in"].(map[string]any)["amount"] = 501
	vars["in"].(map[string]any)["stage"] = 2
	wantErr(t, s.query(t, mint(t, 1, "issuer"), issueMutation, vars), "LIMIT_EXCEEDED")
}

func TestMetricsCountOperations(t *testing.T) {
	s := newTestServer(t)
	s.query(t, mint(t, 1), walletQuery, map[string]any{"a": demoParent})
	s.query(t, "", walletQuery, map[string]any{"a": demoParent})
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`wallet_graphql_requests_total{code="OK",operation="wallet",schema="wallet"} 1`,
		`wallet_graphql_requests_total{code="UNAUTHENTICATED",operation="wallet",schema="wallet"} 1`,
		`wallet_graphql_request_duration_seconds_count{operation="wallet",schema="wallet"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestZeroSetupStart runs the server the way `go run .` does with nothing configured: an
// in-process Redis, SQLite under ./data, demo data, a generated token key; then checks
// readiness follows Redis going away and coming back, and that shutdown is graceful.
func TestZeroSetupStart(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	for _, k := range []string{"DATABASE_URL", "REDIS_URL", "WALLET_JWT_SECRET", "WALLET_TOKEN_KEY", "WALLET_DEMO_DATA"} {
		t.Setenv(k, "")
	}
	t.Setenv("PORT", port)
	cfg, err := configFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	base := "http://127.0.0.1:" + port
	waitStatus(t, base+"/readyz", 200, 10*time.Second)
	for _, f := range []string{"data/wallet.db", "data/token.key"} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s not created: %v", f, err)
		}
	}
	issuer, _ := auth.Mint(auth.DevSecret, 1, 1, []string{"issuer"}, time.Hour)
	user, _ := auth.Mint(auth.DevSecret, 1001, 1, nil, time.Hour)
	must(t, post(t, base+"/query", issuer, issueMutation, issueVars(1001, 1, 66)))
	w := must(t, post(t, base+"/query", user, walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any)
	if num(w["balance"]) != 66 {
		t.Fatalf("wallet = %v", w)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("shutdown did not finish")
	}
}

func TestReadinessFollowsRedis(t *testing.T) {
	cfg := config{DatabaseURL: testenv.SQLiteURL(t), JWTSecret: testSecret, DataDir: t.TempDir()}
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.start(context.Background())
	srv := httptest.NewServer(a.handler())
	defer func() { srv.Close(); a.close() }()
	waitStatus(t, srv.URL+"/readyz", 200, 5*time.Second)
	a.mini.Close()
	t1 := time.Now()
	waitStatus(t, srv.URL+"/readyz", 503, 5*time.Second)
	t.Logf("not ready after %s", time.Since(t1))
	if err := a.mini.Restart(); err != nil {
		t.Fatal(err)
	}
	t2 := time.Now()
	waitStatus(t, srv.URL+"/readyz", 200, 10*time.Second)
	t.Logf("ready again after %s", time.Since(t2))
	resp, _ := http.Get(srv.URL + "/healthz")
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func waitStatus(t testing.TB, url string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := 0
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			last = resp.StatusCode
			resp.Body.Close()
			if last == want {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s answered %d, want %d within %s", url, last, want, within)
}

func TestTokenCommand(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "tok")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("WALLET_JWT_SECRET", "")
	if err := tokenCommand([]string{"--act", "1001", "--app", "1", "--roles", "user"}, f); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	p, err := auth.NewVerifier(auth.DevSecret, auth.DefaultLifetimes()).Verify(strings.TrimSpace(string(b)))
	if err != nil || p.ActID != 1001 || p.AppID != 1 || !p.Has("user") {
		t.Fatalf("minted token = %+v, %v", p, err)
	}
}

func TestWithdrawLimitsAreConfigurable(t *testing.T) {
	t.Setenv("WALLET_WITHDRAW_MIN", "100")
	t.Setenv("WALLET_WITHDRAW_MAX", "200")
	t.Setenv("WALLET_WITHDRAW_DAILY", "300")
	c, err := configFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Withdraw.Min != 100 || c.Withdraw.Max != 200 || c.Withdraw.Daily != 300 {
		t.Fatalf("limits = %+v", c.Withdraw)
	}
	t.Setenv("WALLET_WITHDRAW_MIN", "")
	if c, err := configFromEnv(); err != nil || c.Withdraw.Min != 10 {
		t.Fatalf("default minimum = %d, %v; want 10", c.Withdraw.Min, err)
	}
}
