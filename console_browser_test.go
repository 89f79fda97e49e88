package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// consoleChromium is the browser the console test drives (Debian package chromium).
const consoleChromium = "/usr/bin/chromium"

// TestConsoleInBrowser drives the admin console (/admin/) in headless Chromium
// against a real server: a viewer's toggle is refused and changes nothing, an
// operator turns `withdraw` off with a reason, and the page loads nothing from
// another host. The browser steps are web/console/e2e/console.mjs
// (Playwright, system Chromium); this test checks the outcome over the API.
func TestConsoleInBrowser(t *testing.T) {
	if os.Getenv("WALLET_SKIP_BROWSER") == "1" {
		t.Skip("WALLET_SKIP_BROWSER=1")
	}
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Fatalf("%s not found: install it (apt-get install -y chromium; `make test` does) or set WALLET_SKIP_BROWSER=1 to skip this test", consoleChromium)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: the console's browser test needs Node.js 20+ (as `make assets` does)")
	}
	for _, p := range []string{"web/console/node_modules/playwright-core/package.json", "web/dist/console/index.html"} {
		if _, err := os.Stat(filepath.FromSlash(p)); err != nil {
			t.Fatalf("%s is missing: run `make assets` in the repository root, then rerun the tests", p)
		}
	}

	s := newTestServer(t)
	const operatorAct, viewerAct = 4242, 4243
	operator, viewer, user := mint(t, operatorAct, "operator"), mint(t, viewerAct, "viewer"), mint(t, 4244, "user")
	reason := fmt.Sprintf("console e2e %d: payout provider incident", time.Now().UnixNano())
	// More audit entries than one page (20) holds, so the page's "load more"
	// has something to load; on the live child, to keep the parent's list short.
	for i := range 25 {
		must(t, s.admin(t, mint(t, 4245, "operator"), `mutation($in: AnnouncementInput!) { createAnnouncement(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"activityId": demoChild, "appIds": []int{}, "title": fmt.Sprintf("Seeded notice %d", i+1),
				"body": "", "startsAt": time.Now().Format(time.RFC3339), "endsAt": time.Now().Add(time.Hour).Format(time.RFC3339)}}))
	}

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.FromSlash("web/console/e2e/console.mjs"), s.URL, operator, viewer, user)
	cmd.Env = append(os.Environ(), "CONSOLE_E2E_REASON="+reason, "CHROMIUM="+consoleChromium)
	if dir := os.Getenv("CONSOLE_SCREENSHOTS"); dir != "" {
		cmd.Env = append(cmd.Env, "CONSOLE_SCREENSHOTS="+dir)
	}
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("console e2e script failed (%v):\n%s", err, out)
	}
	t.Logf("console e2e:\n%s", strings.TrimSpace(string(out)))

	// What the operator did is on the server.
	d := must(t, s.admin(t, viewer, `{ switches { name enabled updatedBy reason } auditLog(first: 20) { edges { node { actor action target before after reason } } } }`, nil))
	var withdraw map[string]any
	for _, sw := range d["switches"].([]any) {
		if m := sw.(map[string]any); m["name"] == "withdraw" {
			withdraw = m
		}
	}
	if withdraw == nil || withdraw["enabled"] != false || withdraw["updatedBy"] != fmt.Sprint(operatorAct) || withdraw["reason"] != reason {
		t.Fatalf("withdraw switch = %v, want disabled by %d with reason %q", withdraw, operatorAct, reason)
	}
	edges := d["auditLog"].(map[string]any)["edges"].([]any)
	if len(edges) == 0 {
		t.Fatal("audit log is empty")
	}
	newest := edges[0].(map[string]any)["node"].(map[string]any)
	if newest["action"] != "setSwitch" || newest["target"] != "withdraw" || newest["actor"] != fmt.Sprint(operatorAct) ||
		newest["reason"] != reason || newest["after"] != `{"enabled":false}` {
		t.Fatalf("newest audit entry = %v, want setSwitch withdraw by %d with reason %q", newest, operatorAct, reason)
	}
	// The viewer's refused attempt changed and audited nothing.
	for _, e := range edges {
		if n := e.(map[string]any)["node"].(map[string]any); n["actor"] == fmt.Sprint(viewerAct) {
			t.Errorf("the viewer's refused toggle left an audit entry: %v", n)
		}
	}
	setSwitches := 0
	for _, e := range edges {
		if e.(map[string]any)["node"].(map[string]any)["action"] == "setSwitch" {
			setSwitches++
		}
	}
	if setSwitches != 1 {
		t.Errorf("%d setSwitch audit entries, want exactly the operator's one", setSwitches)
	}
}

// TestConsoleScriptUnits runs the console's JavaScript unit tests (money
// formatting in integer arithmetic) with Node's test runner.
func TestConsoleScriptUnits(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: the console's unit tests need Node.js 20+ (as `make assets` does)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "src/")
	cmd.Dir = filepath.FromSlash("web/console")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test web/console/src/ failed (%v):\n%s", err, out)
	}
}
