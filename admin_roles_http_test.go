package main

import (
	"fmt"
	"testing"
	"time"
)

// TestAdminRoleMatrixAndAuditPerMutation calls every admin mutation with every role: the
// roles below the one each needs are refused (nothing changes, nothing is audited), the ones
// at or above it succeed, and every success leaves exactly one audit entry of its action.
func TestAdminRoleMatrixAndAuditPerMutation(t *testing.T) {
	s := newTestServer(t)
	now := time.Now().UTC()
	win := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	// Each mutation, the least role it needs, and a document with fresh ids per call.
	n := 0
	next := func() int { n++; return n }
	annID := func() string {
		r := must(t, s.admin(t, mint(t, 1, "admin"), `mutation($in: AnnouncementInput!) { createAnnouncement(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"activityId": demoParent, "appIds": []int{}, "title": "t", "body": "b", "startsAt": win(0), "endsAt": win(time.Hour)}}))
		return r["createAnnouncement"].(map[string]any)["id"].(string)
	}
	mutations := []struct {
		action, least string
		doc           func() (string, map[string]any)
	}{
		{"setSwitch", "operator", func() (string, map[string]any) {
			return `mutation { setSwitch(name: "feed.pending", enabled: true, reason: "drill") { name } }`, nil
		}},
		{"createAnnouncement", "operator", func() (string, map[string]any) {
			return `mutation($in: AnnouncementInput!) { createAnnouncement(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"activityId": demoParent, "appIds": []int{1}, "title": "x", "body": "y", "startsAt": win(0), "endsAt": win(time.Hour)}}
		}},
		{"updateAnnouncement", "operator", func() (string, map[string]any) {
			return `mutation($id: ID!, $in: AnnouncementInput!) { updateAnnouncement(id: $id, input: $in) { id } }`,
				map[string]any{"id": annID(), "in": map[string]any{"activityId": demoParent, "appIds": []int{2}, "title": "z", "body": "y", "startsAt": win(0), "endsAt": win(time.Hour)}}
		}},
		{"deleteAnnouncement", "operator", func() (string, map[string]any) {
			return `mutation($id: ID!) { deleteAnnouncement(id: $id, reason: "done") }`, map[string]any{"id": annID()}
		}},
		{"reissueRewards", "operator", func() (string, map[string]any) {
			return `mutation($in: ReissueInput!) { reissueRewards(input: $in) { accepted replayed failed { orderNo code } } }`,
				map[string]any{"in": map[string]any{"reason": "incident", "orders": []any{issueVars(int64(5000+next()), 1, 10)["in"]}}}
		}},
		{"runReconciliation", "operator", func() (string, map[string]any) {
			return `mutation { runReconciliation(activityId: "spring-festival") { id ok } }`, nil
		}},
		{"upsertActivity", "admin", func() (string, map[string]any) {
			return `mutation($in: ActivityInput!) { upsertActivity(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"id": fmt.Sprint("act-", next()), "name": "n", "phase": "GRAY", "startsAt": win(0), "endsAt": win(time.Hour)}}
		}},
		{"upsertScene", "admin", func() (string, map[string]any) {
			return `mutation($in: SceneInput!) { upsertScene(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"id": fmt.Sprint("scene-", next()), "activityId": demoParent, "awardType": "CASH", "budgetTotal": 1000}}
		}},
	}
	rank := map[string]int{"": 0, "user": 0, "issuer": 0, "viewer": 1, "operator": 2, "admin": 3}
	for _, m := range mutations {
		for _, role := range []string{"", "user", "issuer", "viewer", "operator", "admin"} {
			t.Run(m.action+"/"+role, func(t *testing.T) {
				doc, vars := m.doc()
				token := ""
				if role != "" {
					token = mint(t, 77, role)
				}
				count := func() int {
					log := must(t, s.admin(t, mint(t, 1, "viewer"), `query($a: String!) { auditLog(first: 100, action: $a) { edges { node { actor } } } }`, map[string]any{"a": m.action}))
					return len(log["auditLog"].(map[string]any)["edges"].([]any))
				}
				before := count()
				r := s.admin(t, token, doc, vars)
				switch {
				case role == "":
					wantErr(t, r, "UNAUTHENTICATED")
				case rank[role] < rank[m.least]:
					wantErr(t, r, "FORBIDDEN")
				default:
					must(t, r)
				}
				want := before
				if role != "" && rank[role] >= rank[m.least] {
					want++
				}
				if got := count(); got != want {
					t.Fatalf("%d audit entries for %s after the call, want %d", got, m.action, want)
				}
			})
		}
	}
}

// TestPhaseChangeAtTheBoundaryIsolatesData moves a parent activity from its GRAY child to its
// PRODUCTION child at a boundary an hour ahead (the server's clock jumps there), through the
// APIs alone: the same order number is a new reward in the new phase, and each phase's wallet
// holds only its own.
func TestPhaseChangeAtTheBoundaryIsolatesData(t *testing.T) {
	s := newTestServer(t)
	adm, issuer, user := mint(t, 1, "admin"), mint(t, 1, "issuer"), mint(t, 991)
	now := s.clock.Now().UTC().Truncate(time.Second)
	boundary := now.Add(time.Hour) // the test moves the server's clock there
	up := func(id, parent, phase string, from, to time.Time) {
		in := map[string]any{"id": id, "name": id, "phase": phase, "startsAt": from.Format(time.RFC3339), "endsAt": to.Format(time.RFC3339)}
		if parent != "" {
			in["parentId"] = parent
		}
		must(t, s.admin(t, adm, `mutation($in: ActivityInput!) { upsertActivity(input: $in) { id } }`, map[string]any{"in": in}))
	}
	up("cny", "", "PRODUCTION", now.Add(-time.Hour), now.Add(3*time.Hour))
	up("cny-gray", "cny", "GRAY", now.Add(-time.Hour), boundary)
	up("cny-prod", "cny", "PRODUCTION", boundary, now.Add(3*time.Hour))
	must(t, s.admin(t, adm, `mutation { upsertScene(input: {id: "rain", activityId: "cny", awardType: CASH, budgetTotal: 100000}) { id } }`, nil))
	vars := map[string]any{"in": map[string]any{"actId": 991, "appId": 1, "activityId": "cny", "sceneId": "rain", "rainId": 1, "awardType": "CASH", "stage": 0, "amount": 30}}
	must(t, s.query(t, issuer, issueMutation, vars))
	w := must(t, s.query(t, user, walletQuery, map[string]any{"a": "cny"}))["wallet"].(map[string]any)
	if w["activity"].(map[string]any)["phase"] != "GRAY" || num(w["balance"]) != 30 {
		t.Fatalf("before the boundary: %v", w)
	}
	s.clock.Advance(boundary.Sub(s.clock.Now()) + 100*time.Millisecond)
	again := must(t, s.query(t, issuer, issueMutation, vars))["issueReward"].(map[string]any)
	if again["replayed"] != false {
		t.Fatalf("the same order after the boundary = %v, want a new reward in the new phase", again)
	}
	w = must(t, s.query(t, user, walletQuery, map[string]any{"a": "cny"}))["wallet"].(map[string]any)
	if w["activity"].(map[string]any)["id"] != "cny-prod" || num(w["balance"]) != 30 {
		t.Fatalf("after the boundary: %v, want only production's 30", w)
	}
	for _, id := range []string{"cny-gray", "cny-prod"} {
		b := must(t, s.admin(t, mint(t, 1, "viewer"), `query($a: ID!) { budgets(activityId: $a) { sceneId issued } }`, map[string]any{"a": id}))["budgets"].([]any)
		if len(b) != 1 || num(b[0].(map[string]any)["issued"]) != 30 {
			t.Fatalf("budgets(%s) = %v, want its own copy charged once", id, b)
		}
	}
}
