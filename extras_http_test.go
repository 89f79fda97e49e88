package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func postRaw(t *testing.T, url, token string, body map[string]any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("not JSON: %s", raw)
	}
	return out
}

func TestAutomaticPersistedQueriesRoundTrip(t *testing.T) {
	s := newTestServer(t)
	q := `query Wallet($a: ID!) { wallet(activityId: $a) { balance } }`
	sum := sha256.Sum256([]byte(q))
	hash := hex.EncodeToString(sum[:])
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	vars := map[string]any{"a": demoParent}
	user := mint(t, 961)
	// The hash alone is unknown at first: the client is told to send the text.
	first := postRaw(t, s.URL+"/query", user, map[string]any{"extensions": ext, "variables": vars})
	if !strings.Contains(toJSON(first), "PERSISTED_QUERY_NOT_FOUND") {
		t.Fatalf("unknown hash answered %s", toJSON(first))
	}
	// Text and hash together register it (in Redis, shared by every instance)...
	if r := postRaw(t, s.URL+"/query", user, map[string]any{"query": q, "extensions": ext, "variables": vars}); r["errors"] != nil {
		t.Fatalf("register: %s", toJSON(r))
	}
	if n := s.app.rdb.Exists(t.Context(), "w:apq:"+hash).Val(); n != 1 {
		t.Fatal("the persisted query is not in Redis")
	}
	// ...and afterwards the hash alone runs it.
	r := postRaw(t, s.URL+"/query", user, map[string]any{"extensions": ext, "variables": vars})
	if r["errors"] != nil || r["data"].(map[string]any)["wallet"] == nil {
		t.Fatalf("hash-only request: %s", toJSON(r))
	}
	// A hash that does not match the text is refused.
	bad := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("0", 64)}}
	if r := postRaw(t, s.URL+"/query", user, map[string]any{"query": q, "extensions": bad, "variables": vars}); r["errors"] == nil {
		t.Fatal("a mismatched hash was accepted")
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestResponsesReportTheirCost(t *testing.T) {
	s := newTestServer(t)
	s.earn(t, 971, 100)
	r := postRaw(t, s.URL+"/query", mint(t, 971), map[string]any{"query": `{ walletFeed(activityId: "spring-festival", first: 50) { edges { node { id amount } } } }`})
	cost, _ := r["extensions"].(map[string]any)["cost"].(map[string]any)
	if cost == nil {
		t.Fatalf("no extensions.cost: %s", toJSON(r))
	}
	requested, actual := num(cost["requestedQueryCost"]), num(cost["actualQueryCost"])
	// Priced at 50 × (edges, node, id, amount) plus the field itself; one item came back.
	if requested < 150 || actual != 5 || num(cost["maximumQueryCost"]) != 2000 {
		t.Fatalf("cost = %v, want the page priced at its first and the one-item answer counted", cost)
	}
	ts, _ := cost["throttleStatus"].(map[string]any)
	if ts == nil || num(ts["maximumAvailable"]) <= 0 {
		t.Fatalf("throttleStatus = %v", cost["throttleStatus"])
	}
	must(t, s.admin(t, mint(t, 1, "operator"), `mutation { setSwitch(name: "cost.report", enabled: false, reason: "bandwidth") { enabled } }`, nil))
	r = postRaw(t, s.URL+"/query", mint(t, 971), map[string]any{"query": `{ wallet(activityId: "spring-festival") { balance } }`})
	if ext, _ := r["extensions"].(map[string]any); ext != nil && ext["cost"] != nil {
		t.Fatalf("cost reported with cost.report off: %s", toJSON(r))
	}
}

func TestHugeDocumentsAreRefusedBeforeParsing(t *testing.T) {
	s := newTestServer(t)
	// 40 KB, under the document byte limit, so the token limit is what refuses it.
	q := "{ " + strings.Repeat("a ", 20_000) + "}"
	r := post(t, s.URL+"/query", "", q, nil)
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "token limit") {
		t.Fatalf("a 20,000-token document: %s", r.Raw)
	}
}
