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
