package main

import (
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, url, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestMetricsCanRequireAViewer: with WALLET_METRICS=viewer, the issued amounts per activity
// are not for anyone who asks; a viewer token (what Prometheus is given) scrapes them.
func TestMetricsCanRequireAViewer(t *testing.T) {
	s := newTestServerWith(t, func(c *config) { c.MetricsViewerOnly = true })
	if resp := get(t, s.URL+"/metrics", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous scrape = %d, want 401", resp.StatusCode)
	}
	if resp := get(t, s.URL+"/metrics", mint(t, 5, "user")); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("user scrape = %d, want 403", resp.StatusCode)
	}
	resp := get(t, s.URL+"/metrics", mint(t, 5, "viewer"))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("viewer scrape = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// By default the endpoint stays open, as a local Prometheus expects.
	if resp := get(t, newTestServer(t).URL+"/metrics", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("default scrape = %d", resp.StatusCode)
	}
}

// TestPlaygroundsCanBeTurnedOffByConfiguration: WALLET_PLAYGROUND=off hides both
// playgrounds whatever the switch says; the APIs stay.
func TestPlaygroundsCanBeTurnedOffByConfiguration(t *testing.T) {
	s := newTestServerWith(t, func(c *config) { c.PlaygroundOff = true })
	for _, p := range []string{"/playground/", "/admin/playground/"} {
		if resp := get(t, s.URL+p, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s = %d, want 404", p, resp.StatusCode)
		}
	}
	must(t, s.query(t, "", `{ __typename }`, nil))
}

// TestPayoutsInDoubtOnTheAdminSchema: operators see payouts whose outcome is unknown; the
// query is for admin-schema roles only.
func TestPayoutsInDoubtOnTheAdminSchema(t *testing.T) {
	s := newTestServer(t)
	q := `{ payoutsInDoubt(olderThanSeconds: 60) { id activityId actId amount attempts unknownSince lastError } }`
	got := must(t, s.admin(t, mint(t, 1, "viewer"), q, nil))["payoutsInDoubt"].([]any)
	if len(got) != 0 {
		t.Fatalf("payouts in doubt on a fresh server: %v", got)
	}
	wantErr(t, s.admin(t, mint(t, 1, "user"), q, nil), "FORBIDDEN")
	wantErr(t, s.admin(t, mint(t, 1, "viewer"), `{ payoutsInDoubt(olderThanSeconds: -1) { id } }`, nil), "BAD_USER_INPUT")
}
