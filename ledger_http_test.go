package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestLedgerHeadAndVerifyLedger: the admin schema signs the ledger head with the published key;
// verify-ledger passes on the intact ledger and names the entry after a direct edit.
func TestLedgerHeadAndVerifyLedger(t *testing.T) {
	s := newTestServer(t)
	must(t, s.query(t, mint(t, 1, "issuer"), issueMutation, map[string]any{"in": reissueOrder(77, "cash-rain", 1, 30)}))
	must(t, s.query(t, mint(t, 77), `mutation($a: ID!) { forceSettle(activityId: $a) { settledCount } }`, map[string]any{"a": demoParent}))
	head := must(t, s.admin(t, mint(t, 1, "viewer"), `query($a: ID!) { ledgerHead(activityId: $a) { activityId entries hash signature signedAt } }`,
		map[string]any{"a": demoParent}))["ledgerHead"].(map[string]any)
	if num(head["entries"]) != 2 || len(head["hash"].(string)) != 64 {
		t.Fatalf("ledgerHead = %v", head)
	}
	claims, err := s.app.signer.VerifyClaims(head["signature"].(string))
	if err != nil || claims["hash"] != head["hash"] || claims["activityId"] != head["activityId"] {
		t.Fatalf("signature = %v, %v", claims, err)
	}
	wantErr(t, s.admin(t, mint(t, 1, "user"), `query($a: ID!) { ledgerHead(activityId: $a) { hash } }`, map[string]any{"a": demoParent}), "FORBIDDEN")

	child := head["activityId"].(string)
	var out bytes.Buffer
	if code := verifyLedgerCommand(context.Background(), s.app.cfg, []string{"--activity", child}, &out); code != 0 {
		t.Fatalf("verify-ledger on an intact ledger = %d: %s", code, out.String())
	}
	if _, err := s.app.db.W.ExecContext(context.Background(), "UPDATE ledger_entries SET amount = amount + 1000 WHERE act_id = 77"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := verifyLedgerCommand(context.Background(), s.app.cfg, []string{"--activity", child}, &out); code != 1 || !strings.Contains(out.String(), "edited") {
		t.Fatalf("verify-ledger after an edit = %d: %s", code, out.String())
	}
	if code := verifyLedgerCommand(context.Background(), s.app.cfg, nil, &out); code != 2 {
		t.Fatalf("verify-ledger without --activity = %d", code)
	}
}
