package main

import (
	"testing"
	"time"
)

const sendRedPacketMutation = `mutation($in: SendRedPacketInput!) { sendRedPacket(input: $in) {
  replayed
  redPacket { id totalAmount count remainingCount remainingAmount greeting mode expiresAt }
  wallet { balance settled pending cumulativeIncome activity { id } } } }`

const grabRedPacketMutation = `mutation($id: ID!) { grabRedPacket(id: $id) {
  amount redPacket { id totalAmount count remainingCount remainingAmount } } }`

func sendVars(total any, count any, mode, requestID string) map[string]any {
	return map[string]any{"in": map[string]any{
		"activityId": demoParent, "totalAmount": total, "count": count, "mode": mode,
		"greeting": "新年快乐", "requestId": requestID,
	}}
}

func TestRedPacketSendAndGrabOverHTTP(t *testing.T) {
	s := newTestServer(t)
	issuer := mint(t, 1, "issuer")
	const senderID = 1101
	sender := mint(t, senderID)

	// The sender earns 30000 fen and settles it.
	must(t, s.query(t, issuer, issueMutation, issueVars(senderID, 1, 20_000)))
	must(t, s.query(t, issuer, issueMutation, issueVars(senderID, 2, 10_000)))
	must(t, s.query(t, sender, `mutation($a: ID!) { forceSettle(activityId: $a) { settledAmount } }`, map[string]any{"a": demoParent}))

	sent := must(t, s.query(t, sender, sendRedPacketMutation, sendVars(10_000, 5, "RANDOM", "http-1")))["sendRedPacket"].(map[string]any)
	rp := sent["redPacket"].(map[string]any)
	id, _ := rp["id"].(string)
	if sent["replayed"] != false || id == "" || num(rp["totalAmount"]) != 10_000 || num(rp["count"]) != 5 ||
		num(rp["remainingCount"]) != 5 || num(rp["remainingAmount"]) != 10_000 || rp["mode"] != "RANDOM" || rp["greeting"] != "新年快乐" {
		t.Fatalf("sendRedPacket = %v", sent)
	}
	expires, err := time.Parse(time.RFC3339, rp["expiresAt"].(string))
	if err != nil || time.Until(expires) < 23*time.Hour || time.Until(expires) > 25*time.Hour {
		t.Fatalf("expiresAt = %v (%v), want about a day from now", rp["expiresAt"], err)
	}
	w := sent["wallet"].(map[string]any)
	if num(w["balance"]) != 20_000 || num(w["settled"]) != 20_000 || num(w["cumulativeIncome"]) != 30_000 ||
		w["activity"].(map[string]any)["id"] != demoChild {
		t.Fatalf("sender's wallet after sending = %v", w)
	}
	replay := must(t, s.query(t, sender, sendRedPacketMutation, sendVars(10_000, 5, "RANDOM", "http-1")))["sendRedPacket"].(map[string]any)
	if replay["replayed"] != true || replay["redPacket"].(map[string]any)["id"] != id || num(replay["wallet"].(map[string]any)["balance"]) != 20_000 {
		t.Fatalf("replay = %v", replay)
	}
	wantErr(t, s.query(t, sender, sendRedPacketMutation, sendVars(9_999, 5, "RANDOM", "http-1")), "IDEMPOTENCY_CONFLICT")

	// Five others grab every share; the remaining count goes down with each.
	var grabbed int64
	for i := range 5 {
		g := must(t, s.query(t, mint(t, int64(1201+i)), grabRedPacketMutation, map[string]any{"id": id}))["grabRedPacket"].(map[string]any)
		amt := num(g["amount"])
		grabbed += amt
		left := g["redPacket"].(map[string]any)
		if amt < 1 || left["id"] != id || num(left["remainingCount"]) != int64(4-i) || num(left["remainingAmount"]) != 10_000-grabbed {
			t.Fatalf("grab %d = %v", i, g)
		}
		gw := must(t, s.query(t, mint(t, int64(1201+i)), walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any)
		if num(gw["balance"]) != amt || num(gw["settled"]) != amt || num(gw["cumulativeIncome"]) != amt {
			t.Fatalf("grabber %d's wallet = %v, want the %d grabbed", 1201+i, gw, amt)
		}
	}
	if grabbed != 10_000 {
		t.Fatalf("grabs sum to %d, want 10000", grabbed)
	}
	wantErr(t, s.query(t, mint(t, 1299), grabRedPacketMutation, map[string]any{"id": id}), "RED_PACKET_EMPTY")
	wantErr(t, s.query(t, mint(t, 1201), grabRedPacketMutation, map[string]any{"id": id}), "ALREADY_GRABBED")
	wantErr(t, s.query(t, mint(t, 1201), grabRedPacketMutation, map[string]any{"id": "rp-no-such-packet"}), "NOT_FOUND")

	// The sender's and grabbers' wallets add up to what was earned.
	sw := must(t, s.query(t, sender, walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any)
	if num(sw["balance"])+grabbed != 30_000 {
		t.Fatalf("sender %v + grabbers %d != 30000", sw, grabbed)
	}

	// The sender may grab their own packet.
	own := must(t, s.query(t, sender, sendRedPacketMutation, sendVars(300, 3, "FIXED", "http-2")))["sendRedPacket"].(map[string]any)
	ownID := own["redPacket"].(map[string]any)["id"]
	g := must(t, s.query(t, sender, grabRedPacketMutation, map[string]any{"id": ownID}))["grabRedPacket"].(map[string]any)
	if num(g["amount"]) != 100 {
		t.Fatalf("own grab = %v, want a FIXED share of 100", g)
	}
	sw = must(t, s.query(t, sender, walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any)
	if num(sw["balance"]) != 19_800 || num(sw["cumulativeIncome"]) != 30_100 {
		t.Fatalf("sender's wallet after grabbing own share = %v", sw)
	}
}

func TestRedPacketErrorsOverHTTP(t *testing.T) {
	s := newTestServer(t)
	issuer, user := mint(t, 1, "issuer"), mint(t, 1301)
	must(t, s.query(t, issuer, issueMutation, issueVars(1301, 1, 500)))
	cases := []struct {
		name string
		vars map[string]any
		code string
	}{
		{"count 0", sendVars(100, 0, "RANDOM", "e-1"), "BAD_USER_INPUT"},
		{"count 1001", sendVars(5000, 1001, "RANDOM", "e-2"), "BAD_USER_INPUT"},
		{"zero amount", sendVars(0, 1, "FIXED", "e-3"), "BAD_USER_INPUT"},
		{"less than 1 fen a share", sendVars(2, 3, "FIXED", "e-4"), "BAD_USER_INPUT"},
		{"empty request id", sendVars(100, 1, "FIXED", ""), "BAD_USER_INPUT"},
		{"unknown mode", sendVars(100, 1, "LUCKY", "e-5"), "GRAPHQL_VALIDATION_FAILED"},
		{"unknown activity", map[string]any{"in": map[string]any{"activityId": "nope", "totalAmount": 100, "count": 1,
			"mode": "FIXED", "greeting": "", "requestId": "e-6"}}, "NOT_FOUND"},
		{"over the maximum", sendVars(2_000_001, 1, "FIXED", "e-7"), "LIMIT_EXCEEDED"},
		{"more than the balance", sendVars(501, 1, "FIXED", "e-8"), "INSUFFICIENT_BALANCE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, s.query(t, user, sendRedPacketMutation, tc.vars), tc.code)
		})
	}
	wantErr(t, s.query(t, issuer, sendRedPacketMutation, sendVars(100, 1, "FIXED", "e-9")), "FORBIDDEN")
	wantErr(t, s.query(t, "", grabRedPacketMutation, map[string]any{"id": "x"}), "UNAUTHENTICATED")
	// Nothing was sent: the whole 500 is still there.
	w := must(t, s.query(t, user, walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any)
	if num(w["balance"]) != 500 {
		t.Fatalf("refused sends changed the wallet: %v", w)
	}
}
