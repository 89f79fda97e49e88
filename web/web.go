// Package web serves the GraphiQL playground and the admin console, which
// are built from npm by `make assets` (sources in web/graphiql and
// web/console) and embedded into the binary, so the pages work without
// internet access: every script, style, font and web worker they load comes
// from this process.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// dist holds the Vite output. "all:" keeps the committed placeholder
// dist/README.md in the pattern so the package compiles on a fresh checkout
// where the bundle has not been built yet.
//
//go:embed all:dist
var dist embed.FS

// bundleDir is where `make assets` writes the playground bundle, relative to
// dist's root.
const bundleDir = "dist/graphiql"

// endpointMeta is the name of the <meta> tag through which the handler
// tells the page which GraphQL endpoint to query.
const endpointMeta = "wallet-graphql-endpoint"

// Playground returns a handler serving the embedded GraphiQL page titled
// title and querying endpoint; mount it under a path ending in "/" with
// http.StripPrefix (or use Mount), because the page loads its assets by
// relative URL.
func Playground(title, endpoint string) http.Handler {
	bundle, err := fs.Sub(dist, bundleDir)
	if err != nil {
		// Only possible with an invalid constant path: a programming error.
		panic("web: " + err.Error())
	}
	return newPlayground(bundle, title, endpoint)
}

// Mount registers the playground at path (such as "/playground" or
// "/admin/playground") on mux, together with a redirect from path to path+"/"
// so that the page's relative asset URLs resolve under path.
func Mount(mux *http.ServeMux, path, title, endpoint string) {
	path = strings.TrimRight(path, "/")
	if !strings.HasPrefix(path, "/") {
		panic("web: Mount path must start with '/' and not be the root: " + path)
	}
	mux.Handle(path+"/", http.StripPrefix(path+"/", Playground(title, endpoint)))
	mux.Handle(path, http.RedirectHandler(path+"/", http.StatusMovedPermanently))
}

// newPlayground builds the handler over any file system laid out like the
// Vite output (index.html + assets/), so tests can use an fstest.MapFS.
func newPlayground(bundle fs.FS, title, endpoint string) http.Handler {
	return newSite(bundle, site{what: "playground", title: title, endpoint: endpoint, header: http.Header{
		"Content-Security-Policy": {playgroundCSP},
		"X-Frame-Options":         {"DENY"},
		"Referrer-Policy":         {"no-referrer"},
	}})
}

// playgroundCSP allows the playground only this origin: a bearer token pasted into its headers
// editor must not leak to a third-party URL or an injected script, and no other site may frame
// it (clickjacking). GraphiQL's editors add style elements at run time, hence the inline
// styles; its language workers start from blob URLs.
const playgroundCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; " +
	"form-action 'self'; frame-ancestors 'none'"

// site describes one embedded single-page bundle and how to serve it; the
// playground and the admin console share the serving code.
type site struct {
	// what names the page in the not-built answer ("playground", "console").
	what     string
	title    string
	endpoint string
	// spa serves index.html for unknown paths that do not look like files,
	// so client-side routes survive a reload or a shared link.
	spa bool
	// header is added to every answer of a built bundle (e.g. a CSP).
	header http.Header
}

// newSite builds the handler for one bundle, or the not-built page when the
// bundle has no index.html.
func newSite(bundle fs.FS, s site) http.Handler {
	raw, err := fs.ReadFile(bundle, "index.html")
	if err != nil {
		return notBuilt(s.title, s.what)
	}
	// The bundle is immutable for the life of the process, so the page is
	// rendered once and its ETag computed once.
	page := renderIndex(raw, s.title, s.endpoint)
	sum := sha256.Sum256(page)
	return &siteHandler{
		bundle: bundle,
		page:   page,
		etag:   `"` + hex.EncodeToString(sum[:12]) + `"`,
		spa:    s.spa,
		header: s.header,
	}
}

// siteHandler serves a built bundle.
type siteHandler struct {
	bundle fs.FS
	page   []byte // index.html with title and endpoint injected
	etag   string // strong validator of page
	spa    bool
	header http.Header
}

func (p *siteHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	for k, v := range p.header {
		// A copy: a later Header().Add must not write into the shared slice.
		h[k] = append([]string(nil), v...)
	}
	// Content types are set explicitly below; never let a browser guess.
	h.Set("X-Content-Type-Options", "nosniff")

	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" || name == "index.html" {
		p.serveIndex(w, r)
		return
	}

	// fs.ValidPath rejects "..", "." and empty elements, so nothing outside
	// the bundle can be named; directories are not listed.
	if !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	f, err := p.bundle.Open(name)
	if err != nil {
		if p.spa && isRoute(name) {
			p.serveIndex(w, r)
			return
		}
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || info.IsDir() {
		http.NotFound(w, r)
		return
	}

	h.Set("Content-Type", contentType(name))
	if strings.HasPrefix(name, "assets/") {
		// Vite puts a content hash in every file name under assets/, so a
		// given URL never changes content.
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	// embed.FS files are seekable; anything else is read into memory.
	content, ok := f.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(f)
		if err != nil {
			http.Error(w, "read error", http.StatusInternalServerError)
			return
		}
		content = bytes.NewReader(b)
	}
	http.ServeContent(w, r, name, time.Time{}, content)
}

// serveIndex answers with the rendered index.html.
func (p *siteHandler) serveIndex(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The page names the hashed assets of the current build, so it must
	// be revalidated on every load; the ETag keeps that cheap.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", p.etag)
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(p.page))
}

// isRoute tells a client-side route (audit, activities/spring-festival) from
// a file the page would load: files live under assets/ or have an extension,
// and a missing one must stay a 404 rather than become an HTML page that the
// browser then fails to run as a script.
func isRoute(name string) bool {
	return !strings.HasPrefix(name, "assets/") && path.Ext(name) == ""
}

// contentTypes pins the types of the files Vite emits, because
// mime.TypeByExtension also reads the host's mime.types, which differ across
// machines (e.g. ".js" as application/javascript, ".ttf" missing).
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".json":  "application/json",
	".map":   "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".ttf":   "font/ttf",
	".otf":   "font/otf",
	".woff":  "font/woff",
	".woff2": "font/woff2",
	".wasm":  "application/wasm",
	".txt":   "text/plain; charset=utf-8",
	".md":    "text/plain; charset=utf-8",
}

// contentType returns the media type to send for the file name.
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// renderIndex injects the page title and the endpoint <meta> into the built
// index.html. One bundle then serves every mount point, and the page does
// not have to guess its endpoint from its URL.
func renderIndex(raw []byte, title, endpoint string) []byte {
	doc := string(raw)
	head := `<meta name="` + endpointMeta + `" content="` + html.EscapeString(endpoint) + `">`
	escTitle := html.EscapeString(title)

	// Replace the build's title; add one if the template lost it.
	if i := strings.Index(doc, "<title>"); i >= 0 {
		if j := strings.Index(doc[i:], "</title>"); j >= 0 {
			doc = doc[:i] + "<title>" + escTitle + doc[i+j:]
		}
	} else {
		head += "<title>" + escTitle + "</title>"
	}

	// Put the meta first in <head> so it exists before any script runs.
	if i := strings.Index(doc, "<head>"); i >= 0 {
		i += len("<head>")
		doc = doc[:i] + "\n    " + head + doc[i:]
	} else {
		doc = head + doc
	}
	return []byte(doc)
}

// notBuilt answers every request with 503 and instructions, so a binary
// built without `make assets` still starts and says what is missing rather
// than serving a blank page.
func notBuilt(title, what string) http.Handler {
	page := []byte(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>` + html.EscapeString(title) + ` (not built)</title></head>
<body>
<h1>` + html.EscapeString(title) + `</h1>
<p>The ` + html.EscapeString(what) + ` assets were not built into this binary.</p>
<p>Run <code>make assets</code> in the repository root, then rebuild and restart the server.</p>
</body>
</html>
`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		// The answer changes as soon as a built binary is deployed.
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		if r.Method != http.MethodHead {
			w.Write(page)
		}
	})
}
