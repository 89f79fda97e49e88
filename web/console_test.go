package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
)

// requireConsoleBuilt fails (not skips) when the console bundle is missing:
// CI runs `make assets` before the tests.
func requireConsoleBuilt(t *testing.T) {
	t.Helper()
	if _, err := fs.Stat(dist, consoleDir+"/index.html"); err != nil {
		t.Fatalf("admin console assets are not built (%s/index.html missing from the embedded FS): run `make assets` in the repository root, then rerun the tests", consoleDir)
	}
}

// newConsoleServer mounts the console the way the wallet server does, next
// to the admin endpoint and playground it must not shadow.
func newConsoleServer(t *testing.T, console http.Handler) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/admin/query", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"data":{"fake":true}}`)
	})
	Mount(mux, "/admin/playground", "Wallet admin playground", "/admin/query")
	mux.Handle(ConsolePath, http.StripPrefix(ConsolePath, console))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestConsoleServesOfflineBundle(t *testing.T) {
	requireConsoleBuilt(t)
	srv := newConsoleServer(t, Console())

	resp, body := get(t, srv.Client(), srv.URL+"/admin/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/: status %d, want 200", resp.StatusCode)
	}
	for _, want := range []string{
		"<title>Wallet admin console</title>",
		`<meta name="wallet-graphql-endpoint" content="/admin/query">`,
		`<div id="root">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if m := absURL.FindString(body); m != "" {
		t.Errorf("page references an absolute URL (%s...): everything must be served locally", m)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy %q, want default-src 'self'", csp)
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
	base, _ := url.Parse(srv.URL + "/admin/audit") // a deep route: asset URLs must not be relative
	for _, ref := range refs {
		u, err := base.Parse(ref)
		if err != nil || u.Host != base.Host || !strings.HasPrefix(u.Path, "/admin/") {
			t.Errorf("reference %q resolves to %v, want a path under /admin/ on this host", ref, u)
			continue
		}
		r, _ := get(t, srv.Client(), u.String())
		if r.StatusCode != http.StatusOK {
			t.Errorf("GET %s (from %q): status %d, want 200", u.Path, ref, r.StatusCode)
		}
	}

	// Every file of the bundle is served with a precise type.
	n := 0
	err := fs.WalkDir(dist, consoleDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		rel := strings.TrimPrefix(p, consoleDir+"/")
		r, _ := get(t, srv.Client(), srv.URL+"/admin/"+rel)
		ct := r.Header.Get("Content-Type")
		if r.StatusCode != http.StatusOK || ct == "" || strings.HasPrefix(ct, "application/octet-stream") {
			t.Errorf("GET /admin/%s: status %d, Content-Type %q", rel, r.StatusCode, ct)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Fatalf("console bundle has only %d files; run `make assets`", n)
	}
}

// The console shares /admin/ with the admin API and playground, which are
// registered more specifically and must keep answering.
func TestConsoleRouting(t *testing.T) {
	bundle := fstest.MapFS{
		"index.html":         {Data: []byte(`<!doctype html><html><head><title>x</title><script type="module" src="/admin/assets/app-abc.js"></script></head><body><div id="root"></div></body></html>`)},
		"assets/app-abc.js":  {Data: []byte(`console.log(1)`)},
		"assets/app-abc.css": {Data: []byte(`body{}`)},
		"favicon.svg":        {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
	}
	srv := newConsoleServer(t, newConsole(bundle))

	// ServeMux itself redirects a subtree's root without its slash (307).
	resp, _ := get(t, noRedirect(), srv.URL+"/admin")
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "/admin/" {
		t.Errorf("GET /admin: %d Location %q, want a redirect to /admin/", resp.StatusCode, resp.Header.Get("Location"))
	}

	for _, tc := range []struct {
		path   string
		status int
		want   string // in the body
		ctype  string
	}{
		{"/admin/", 200, `<title>Wallet admin console</title>`, "text/html"},
		{"/admin/index.html", 200, `<title>Wallet admin console</title>`, "text/html"},
		// Client-side routes answer with the page.
		{"/admin/audit", 200, `<div id="root">`, "text/html"},
		{"/admin/activities/spring-festival-prod", 200, `<div id="root">`, "text/html"},
		{"/admin/assets/app-abc.js", 200, `console.log(1)`, "text/javascript"},
		{"/admin/favicon.svg", 200, `<svg`, "image/svg+xml"},
		// Missing files stay 404, never the page.
		{"/admin/assets/app-missing.js", 404, "", ""},
		{"/admin/assets/nested/route", 404, "", ""},
		{"/admin/robots.txt", 404, "", ""},
		{"/admin/assets/", 404, "", ""},
		{"/admin/%2e%2e/web.go", 404, "", ""},
		// The more specific neighbours keep working.
		{"/admin/query", 200, `"fake":true`, "application/json"},
	} {
		resp, body := get(t, noRedirect(), srv.URL+tc.path)
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: status %d, want %d", tc.path, resp.StatusCode, tc.status)
			continue
		}
		if !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: body lacks %q:\n%.300s", tc.path, tc.want, body)
		}
		if ct := resp.Header.Get("Content-Type"); tc.ctype != "" && !strings.HasPrefix(ct, tc.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.ctype)
		}
		if tc.status == 200 && tc.path != "/admin/query" && resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no Content-Security-Policy", tc.path)
		}
	}
	if resp, _ := get(t, noRedirect(), srv.URL+"/admin/playground"); resp.StatusCode != http.StatusMovedPermanently ||
		resp.Header.Get("Location") != "/admin/playground/" {
		t.Errorf("GET /admin/playground: %d Location %q, want the playground's own redirect", resp.StatusCode, resp.Header.Get("Location"))
	}

	r, err := srv.Client().Post(srv.URL+"/admin/audit", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /admin/audit: status %d, want 405", r.StatusCode)
	}
}

func TestConsoleNotBuilt(t *testing.T) {
	// A bundle directory without index.html, as on a fresh checkout.
	srv := newConsoleServer(t, newConsole(fstest.MapFS{"README.md": {Data: []byte("placeholder")}}))
	for _, p := range []string{"/admin/", "/admin/audit", "/admin/assets/index-abc.js"} {
		resp, body := get(t, srv.Client(), srv.URL+p)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("GET %s: status %d, want 503", p, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s: Content-Type %q, want text/html", p, ct)
		}
		if !strings.Contains(body, "make assets") || !strings.Contains(body, "console assets were not built") {
			t.Errorf("GET %s: body lacks the `make assets` hint:\n%s", p, body)
		}
	}
	// The admin API is unaffected.
	if resp, _ := get(t, srv.Client(), srv.URL+"/admin/query"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /admin/query: status %d, want 200", resp.StatusCode)
	}
}
