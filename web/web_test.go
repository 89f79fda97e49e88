package web

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

const chromiumPath = "/usr/bin/chromium"

// requireBuilt fails (not skips) when the bundle is missing: CI runs
// `make assets` before the tests, so a missing bundle is a real error.
func requireBuilt(t *testing.T) {
	t.Helper()
	if _, err := fs.Stat(dist, bundleDir+"/index.html"); err != nil {
		t.Fatalf("playground assets are not built (%s/index.html missing from the embedded FS): run `make assets` in the repository root, then rerun the tests", bundleDir)
	}
}

// newServer mounts both playgrounds the way the wallet server does.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	Mount(mux, "/playground", "Wallet GraphQL playground", "/query")
	Mount(mux, "/admin/playground", "Wallet admin playground", "/admin/query")
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// noRedirect returns a client that reports redirects instead of following them.
func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", u, err)
	}
	return resp, string(b)
}

var (
	scriptSrc = regexp.MustCompile(`<script\b[^>]*\bsrc="([^"]*)"`)
	linkHref  = regexp.MustCompile(`<link\b[^>]*\bhref="([^"]*)"`)
	absURL    = regexp.MustCompile(`(?i)\b(?:src|href)="(?:https?:)?//`)
)

func TestPlaygroundServesOfflineBundle(t *testing.T) {
	requireBuilt(t)
	srv := newServer(t)

	for _, tc := range []struct{ path, title, endpoint string }{
		{"/playground/", "Wallet GraphQL playground", "/query"},
		{"/admin/playground/", "Wallet admin playground", "/admin/query"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			page := srv.URL + tc.path
			resp, body := get(t, srv.Client(), page)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200", page, resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want text/html", ct)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("index Cache-Control %q, want no-cache", cc)
			}
			if want := "<title>" + tc.title + "</title>"; !strings.Contains(body, want) {
				t.Errorf("page lacks %s", want)
			}
			if want := `<meta name="wallet-graphql-endpoint" content="` + tc.endpoint + `">`; !strings.Contains(body, want) {
				t.Errorf("page lacks %s", want)
			}
			if m := absURL.FindString(body); m != "" {
				t.Errorf("page references an absolute URL (%s...): everything must be served locally", m)
			}

			var refs []string
			for _, m := range scriptSrc.FindAllStringSubmatch(body, -1) {
				refs = append(refs, m[1])
			}
			for _, m := range linkHref.FindAllStringSubmatch(body, -1) {
				refs = append(refs, m[1])
			}
			if len(refs) < 2 {
				t.Fatalf("expected at least one script and one stylesheet in the page, found %q", refs)
			}
			base, _ := url.Parse(page)
			srvURL, _ := url.Parse(srv.URL)
			for _, ref := range refs {
				u, err := base.Parse(ref)
				if err != nil {
					t.Errorf("bad reference %q: %v", ref, err)
					continue
				}
				if u.Host != srvURL.Host {
					t.Errorf("reference %q resolves to another host %q", ref, u.Host)
					continue
				}
				r, _ := get(t, srv.Client(), u.String())
				if r.StatusCode != http.StatusOK {
					t.Errorf("GET %s (from %q): status %d, want 200", u, ref, r.StatusCode)
				}
				if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
					t.Errorf("GET %s: Cache-Control %q, want long-lived immutable", u, cc)
				}
			}

			// Revalidation of the page is cheap.
			req, _ := http.NewRequest(http.MethodGet, page, nil)
			req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
			r2, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r2.Body.Close()
			if r2.StatusCode != http.StatusNotModified {
				t.Errorf("conditional GET with ETag %q: status %d, want 304", resp.Header.Get("ETag"), r2.StatusCode)
			}
		})
	}
}

// Everything in the bundle, including what only scripts and styles load
// (workers, fonts, lazy chunks), is served with a precise content type.
func TestPlaygroundServesEveryAsset(t *testing.T) {
	requireBuilt(t)
	srv := newServer(t)
	n := 0
	err := fs.WalkDir(dist, bundleDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		rel := strings.TrimPrefix(p, bundleDir+"/")
		resp, _ := get(t, srv.Client(), srv.URL+"/playground/"+rel)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", rel, resp.StatusCode)
		}
		ct := resp.Header.Get("Content-Type")
		if ct == "" || strings.HasPrefix(ct, "application/octet-stream") {
			t.Errorf("GET %s: vague Content-Type %q", rel, ct)
		}
		for ext, want := range map[string]string{".js": "text/javascript", ".css": "text/css", ".html": "text/html"} {
			if strings.HasSuffix(rel, ext) && !strings.HasPrefix(ct, want) {
				t.Errorf("GET %s: Content-Type %q, want %s", rel, ct, want)
			}
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: missing X-Content-Type-Options: nosniff", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Fatalf("bundle has only %d files; run `make assets`", n)
	}
}

func TestPlaygroundRoutingAndErrors(t *testing.T) {
	requireBuilt(t)
	srv := newServer(t)

	for from, to := range map[string]string{
		"/playground":       "/playground/",
		"/admin/playground": "/admin/playground/",
	} {
		resp, _ := get(t, noRedirect(), srv.URL+from)
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != to {
			t.Errorf("GET %s: %d Location %q, want 301 to %s", from, resp.StatusCode, resp.Header.Get("Location"), to)
		}
	}

	for _, p := range []string{
		"/playground/assets/",                // no directory listings
		"/playground/assets/missing-abc.js",  // unknown file
		"/playground/%2e%2e/web.go",          // escaping the bundle
		"/playground/assets/../../../web.go", // idem, cleaned by the mux
	} {
		resp, _ := get(t, noRedirect(), srv.URL+p)
		if resp.StatusCode == http.StatusOK {
			t.Errorf("GET %s: status 200, want an error", p)
		}
	}

	resp, err := srv.Client().Post(srv.URL+"/playground/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", resp.StatusCode)
	}
}

func TestPlaygroundNotBuilt(t *testing.T) {
	// A bundle directory without index.html, as on a fresh checkout.
	h := newPlayground(fstest.MapFS{"README.md": {Data: []byte("placeholder")}}, "Wallet GraphQL playground", "/query")
	srv := httptest.NewServer(http.StripPrefix("/playground/", h))
	defer srv.Close()

	for _, p := range []string{"/playground/", "/playground/assets/index-abc.js"} {
		resp, body := get(t, srv.Client(), srv.URL+p)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("GET %s: status %d, want 503", p, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s: Content-Type %q, want text/html", p, ct)
		}
		if !strings.Contains(body, "make assets") || !strings.Contains(body, "not built") {
			t.Errorf("GET %s: body lacks the `make assets` hint:\n%s", p, body)
		}
	}
}

func TestRenderIndexEscapes(t *testing.T) {
	bundle := fstest.MapFS{
		"index.html": {Data: []byte("<!doctype html><html><head><title>x</title></head><body></body></html>")},
	}
	h := newPlayground(bundle, `A <b>&</b>`, `/q?a="1"&b=<2>`)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	for _, want := range []string{
		`<title>A &lt;b&gt;&amp;&lt;/b&gt;</title>`,
		`<meta name="wallet-graphql-endpoint" content="/q?a=&#34;1&#34;&amp;b=&lt;2&gt;">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body)
		}
	}
}

// TestPlaygroundRendersInBrowser loads the page in headless Chromium, with
// every host but the test server unresolvable, and checks that GraphiQL
// renders and queries the endpoint derived for its mount point.
func TestPlaygroundRendersInBrowser(t *testing.T) {
	if os.Getenv("WALLET_SKIP_BROWSER") == "1" {
		t.Skip("WALLET_SKIP_BROWSER=1")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s not found: install it (apt-get install -y chromium) or set WALLET_SKIP_BROWSER=1 to skip this test", chromiumPath)
	}
	requireBuilt(t)

	// Records what the page posts to the GraphQL endpoints, which proves
	// the endpoint wiring without a real schema.
	var mu sync.Mutex
	hits := map[string]int{}
	fake := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"errors":[{"message":"fake endpoint"}]}`)
	}
	mux := http.NewServeMux()
	Mount(mux, "/playground", "Wallet GraphQL playground", "/query")
	Mount(mux, "/admin/playground", "Wallet admin playground", "/admin/query")
	mux.HandleFunc("POST /query", fake)
	mux.HandleFunc("POST /admin/query", fake)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, tc := range []struct{ path, title, endpoint string }{
		{"/playground/", "Wallet GraphQL playground", "/query"},
		{"/admin/playground/", "Wallet admin playground", "/admin/query"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			dom := dumpDOM(t, srv.URL+tc.path)
			if !strings.Contains(dom, "graphiql-container") {
				t.Fatalf("GraphiQL did not render (no graphiql-container in the DOM):\n%.3000s", dom)
			}
			if !strings.Contains(dom, tc.title) {
				t.Errorf("rendered page lacks its title %q", tc.title)
			}
			if !strings.Contains(dom, "Authorization") {
				t.Errorf("headers editor does not show the Authorization template")
			}
			mu.Lock()
			n := hits[tc.endpoint]
			mu.Unlock()
			if n == 0 {
				t.Errorf("page never queried %s (hits: %v)", tc.endpoint, hits)
			}
		})
	}
}

// dumpDOM runs headless Chromium on u and returns the serialized DOM after
// the page has settled.
func dumpDOM(t *testing.T, u string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromiumPath,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage",
		// Anything but the loopback test server fails to resolve, so a
		// stray CDN reference breaks the page even on a connected machine.
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=10000",
		"--dump-dom", u,
	)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\nstderr:\n%s", u, err, stderr.String())
	}
	return string(out)
}

// TestPlaygroundSendsSecurityHeaders: the playground may not be framed by another site, and
// its scripts may talk only to this origin (a pasted bearer token cannot leak).
func TestPlaygroundSendsSecurityHeaders(t *testing.T) {
	bundle := fstest.MapFS{"index.html": {Data: []byte("<html><head><title>x</title></head><body></body></html>")}}
	srv := httptest.NewServer(newPlayground(bundle, "Wallet GraphQL playground", "/query"))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options = %q, want DENY", got)
	}
}
