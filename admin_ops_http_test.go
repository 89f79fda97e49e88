package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/springwallet/wallet/ent/balance"
)

const reissueMutation = `mutation($in: ReissueInput!) { reissueRewards(input: $in) {
  accepted replayed failed { orderNo code message } results { orderNo outcome status code } } }`

const reconcileMutation = `mutation($a: ID!) { runReconciliation(activityId: $a) {
  id activityId ok discrepancyCount discrepancies { kind orderNo ref detail } actor startedAt finishedAt } }`

const reportsQuery = `query($a: ID!, $first: Int!) { reconciliationReports(activityId: $a, first: $first) { id ok discrepancyCount discrepancies { kind } } }`

func reissueOrder(actID int64, scene string, rain int, amount any) map[string]any {
	award := "CASH"
	if scene == "coupon-gala" {
		award = "COUPON"
	}
	return map[string]any{"actId": actID, "appId": 1, "activityId": demoParent, "sceneId": scene, "rainId": rain,
		"awardType": award, "stage": 0, "amount": amount}
}

func reissueVars(reason string, orders ...map[string]any) map[string]any {
	if orders == nil {
		orders = []map[string]any{} // an empty list, not null
	}
	return map[string]any{"in": map[string]any{"orders": orders, "reason": reason}}
}

// auditNewest returns the newest audit entry of an action.
func (s *testServer) auditNewest(t *testing.T, action string) map[string]any {
	t.Helper()
	q := `query($a: String) { auditLog(first: 1, action: $a) { edges { node { actor action target before after reason } } } }`
	edges := must(t, s.admin(t, mint(t, 7, "viewer"), q, map[string]any{"a": action}))["auditLog"].(map[string]any)["edges"].([]any)
	if len(edges) != 1 {
		t.Fatalf("no %s audit entry", action)
	}
	return edges[0].(map[string]any)["node"].(map[string]any)
}

func TestReissueRewardsOverHTTP(t *testing.T) {
	s := newTestServer(t)
	issuer, operator := mint(t, 1, "issuer"), mint(t, 7, "operator")
	must(t, s.query(t, issuer, issueMutation, issueVars(601, 1, 100))) // issued before: replayed
	must(t, s.query(t, issuer, issueMutation, issueVars(602, 1, 100))) // issued before with 100: a conflict
	batch := []map[string]any{
		reissueOrder(601, "cash-rain", 1, 100),
		reissueOrder(602, "cash-rain", 1, 999),
		reissueOrder(603, "cash-rain", 1, 250),
		reissueOrder(604, "no-such-scene", 1, 10),
		reissueOrder(605, "cash-rain", 1, 0),
		reissueOrder(606, "coupon-gala", 1, 300),
	}

	for _, tc := range []struct {
		token, code string
	}{{"", "UNAUTHENTICATED"}, {mint(t, 9, "user"), "FORBIDDEN"}, {issuer, "FORBIDDEN"}, {mint(t, 9, "viewer"), "FORBIDDEN"}} {
		wantErr(t, s.admin(t, tc.token, reissueMutation, reissueVars("x", batch...)), tc.code)
	}
	if w := must(t, s.query(t, mint(t, 603), walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any); num(w["balance"]) != 0 {
		t.Fatalf("a refused re-issue paid: %v", w)
	}

	p := must(t, s.admin(t, operator, reissueMutation, reissueVars("backend outage #12", batch...)))["reissueRewards"].(map[string]any)
	if num(p["accepted"]) != 2 || num(p["replayed"]) != 1 {
		t.Fatalf("reissueRewards = %v, want 2 accepted, 1 replayed", p)
	}
	var failed []string
	for _, f := range p["failed"].([]any) {
		m := f.(map[string]any)
		failed = append(failed, fmt.Sprint(m["orderNo"], " ", m["code"]))
		if m["message"] == "" {
			t.Errorf("failure without a message: %v", m)
		}
	}
	want := []string{"602_cash-rain_1_CASH_0 IDEMPOTENCY_CONFLICT", "604_no-such-scene_1_CASH_0 NOT_FOUND", "605_cash-rain_1_CASH_0 BAD_USER_INPUT"}
	if fmt.Sprint(failed) != fmt.Sprint(want) {
		t.Fatalf("failed = %v, want %v", failed, want)
	}
	var outcomes []string
	for _, r := range p["results"].([]any) {
		m := r.(map[string]any)
		outcomes = append(outcomes, fmt.Sprint(m["outcome"], "/", m["status"], "/", m["code"]))
	}
	wantOutcomes := []string{"REPLAYED/PENDING/<nil>", "FAILED/<nil>/IDEMPOTENCY_CONFLICT", "ACCEPTED/PENDING/<nil>",
		"FAILED/<nil>/NOT_FOUND", "FAILED/<nil>/BAD_USER_INPUT", "ACCEPTED/PENDING/<nil>"}
	if fmt.Sprint(outcomes) != fmt.Sprint(wantOutcomes) {
		// A replay may find its reward settled already by the worker.
		wantOutcomes[0] = "REPLAYED/SETTLED/<nil>"
		if fmt.Sprint(outcomes) != fmt.Sprint(wantOutcomes) {
			t.Fatalf("results = %v", outcomes)
		}
	}
	if w := must(t, s.query(t, mint(t, 603), walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any); num(w["balance"]) != 250 {
		t.Fatalf("re-issued reward not in the wallet: %v", w)
	}
	entry := s.auditNewest(t, "reissueRewards")
	var after struct {
		Orders, Accepted, Replayed int
		Failed                     []struct{ OrderNo, Code string }
	}
	if err := json.Unmarshal([]byte(entry["after"].(string)), &after); err != nil {
		t.Fatalf("audit after %v: %v", entry["after"], err)
	}
	if entry["actor"] != "7" || entry["target"] != "batch:6" || entry["reason"] != "backend outage #12" || entry["before"] != "" ||
		after.Orders != 6 || after.Accepted != 2 || after.Replayed != 1 || len(after.Failed) != 3 || after.Failed[0].Code != "IDEMPOTENCY_CONFLICT" {
		t.Fatalf("audit entry = %v", entry)
	}

	// The same batch again (by an admin, who is an operator too) pays nothing twice.
	again := must(t, s.admin(t, mint(t, 8, "admin"), reissueMutation, reissueVars("retry", batch...)))["reissueRewards"].(map[string]any)
	if num(again["accepted"]) != 0 || num(again["replayed"]) != 3 || len(again["failed"].([]any)) != 3 {
		t.Fatalf("second batch = %v, want 0 accepted, 3 replayed, 3 failed", again)
	}
	if w := must(t, s.query(t, mint(t, 603), walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any); num(w["balance"]) != 250 {
		t.Fatalf("a replayed re-issue paid again: %v", w)
	}

	// Refused whole: no reason, no orders, too many orders.
	big := make([]map[string]any, 501)
	for i := range big {
		big[i] = reissueOrder(int64(10_000+i), "cash-rain", 1, 1)
	}
	wantErr(t, s.admin(t, operator, reissueMutation, reissueVars("", batch[0])), "BAD_USER_INPUT")
	wantErr(t, s.admin(t, operator, reissueMutation, reissueVars("x")), "BAD_USER_INPUT")
	wantErr(t, s.admin(t, operator, reissueMutation, reissueVars("x", big...)), "BAD_USER_INPUT")
	if got := s.auditNewest(t, "reissueRewards"); got["reason"] != "retry" {
		t.Fatalf("a refused batch was audited: %v", got)
	}
	if w := must(t, s.query(t, mint(t, 10_000), walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any); num(w["balance"]) != 0 {
		t.Fatalf("an oversized batch paid: %v", w)
	}
}

func TestRunReconciliationOverHTTP(t *testing.T) {
	s := newTestServer(t)
	operator := mint(t, 7, "operator")
	s.earn(t, 701, 1_500)
	s.earn(t, 702, 800)
	for _, act := range []int64{701, 702} {
		must(t, s.query(t, mint(t, act), `mutation($a: ID!) { forceSettle(activityId: $a) { settledCount } }`, map[string]any{"a": demoParent}))
	}
	must(t, s.query(t, mint(t, 701), withdrawMutation, map[string]any{"in": map[string]any{"activityId": demoParent, "amount": 300, "requestId": "rc"}}))

	vars := map[string]any{"a": demoParent}
	for _, tc := range []struct {
		token, code string
	}{{"", "UNAUTHENTICATED"}, {mint(t, 9, "user"), "FORBIDDEN"}, {mint(t, 9, "issuer"), "FORBIDDEN"}, {mint(t, 9, "viewer"), "FORBIDDEN"}} {
		wantErr(t, s.admin(t, tc.token, reconcileMutation, vars), tc.code)
	}
	rep := must(t, s.admin(t, operator, reconcileMutation, vars))["runReconciliation"].(map[string]any)
	if rep["ok"] != true || num(rep["discrepancyCount"]) != 0 || len(rep["discrepancies"].([]any)) != 0 ||
		rep["activityId"] != demoChild || rep["actor"] != "7" || rep["id"] == "" {
		t.Fatalf("runReconciliation on a clean activity = %v", rep)
	}
	entry := s.auditNewest(t, "runReconciliation")
	if entry["actor"] != "7" || entry["target"] != demoChild {
		t.Fatalf("audit entry = %v", entry)
	}

	// A balance row that disagrees with the ledger is found, by an admin too.
	n, err := s.app.db.W.Balance.Update().Where(balance.ActivityID(demoChild), balance.ActID(702)).AddSettled(11).Save(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("tamper balance: %d, %v", n, err)
	}
	bad := must(t, s.admin(t, mint(t, 8, "admin"), reconcileMutation, vars))["runReconciliation"].(map[string]any)
	ds := bad["discrepancies"].([]any)
	if bad["ok"] != false || num(bad["discrepancyCount"]) != 1 || len(ds) != 1 {
		t.Fatalf("runReconciliation after tampering = %v", bad)
	}
	if d := ds[0].(map[string]any); d["kind"] != "BALANCE_MISMATCH" || d["ref"] != "702" || d["orderNo"] != nil || d["detail"] == "" {
		t.Fatalf("discrepancy = %v", d)
	}

	// Reports are listed newest first; viewers may read them.
	list := must(t, s.admin(t, mint(t, 9, "viewer"), reportsQuery, map[string]any{"a": demoParent, "first": 10}))["reconciliationReports"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["id"] != bad["id"] || list[1].(map[string]any)["id"] != rep["id"] ||
		list[0].(map[string]any)["ok"] != false || list[1].(map[string]any)["ok"] != true {
		t.Fatalf("reconciliationReports = %v", list)
	}
	wantErr(t, s.admin(t, mint(t, 9, "viewer"), reportsQuery, map[string]any{"a": demoParent, "first": 0}), "BAD_USER_INPUT")
	wantErr(t, s.admin(t, mint(t, 9, "viewer"), reportsQuery, map[string]any{"a": demoParent, "first": 101}), "BAD_USER_INPUT")
	wantErr(t, s.admin(t, mint(t, 9, "user"), reportsQuery, map[string]any{"a": demoParent, "first": 1}), "FORBIDDEN")
	wantErr(t, s.admin(t, operator, reconcileMutation, map[string]any{"a": "no-such-activity"}), "NOT_FOUND")
	wantErr(t, s.admin(t, operator, reconcileMutation, map[string]any{"a": "bad id!"}), "BAD_USER_INPUT")
}

// TestReissueAndReconciliationOnPostgres runs both over HTTP with the database on PostgreSQL,
// where reconciliation's aggregate SQL must mean what it means on SQLite.
func TestReissueAndReconciliationOnPostgres(t *testing.T) {
	serverOnPostgres = true
	defer func() { serverOnPostgres = false }()
	t.Run("Reissue", TestReissueRewardsOverHTTP)
	t.Run("Reconciliation", TestRunReconciliationOverHTTP)
}
