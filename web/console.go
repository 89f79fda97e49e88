package web

import (
	"io/fs"
	"net/http"
)

// consoleDir is where `make assets` writes the admin console bundle
// (sources in web/console), relative to dist's root.
const consoleDir = "dist/console"

// ConsolePath is where the console is served: its bundle is built with this
// base (web/console/vite.config.js), so its asset URLs are absolute under it.
const ConsolePath = "/admin/"

// consoleCSP allows the page nothing but this origin. The console holds an
// admin token, so an injected script or a stray third-party URL must not run
// or leak it; the built bundle needs no inline script or style element
// (React sets style properties through the DOM, which CSP allows).
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// Console returns the handler of the embedded admin console, a single-page
// app talking to /admin/query. Mount it at ConsolePath with the prefix
// stripped:
//
//	mux.Handle(web.ConsolePath, http.StripPrefix(web.ConsolePath, web.Console()))
//
// Paths that look like client-side routes (no extension, not under assets/)
// answer with the page. A binary built without `make assets` answers 503
// saying how to build it.
func Console() http.Handler {
	bundle, err := fs.Sub(dist, consoleDir)
	if err != nil {
		// Only possible with an invalid constant path: a programming error.
		panic("web: " + err.Error())
	}
	return newConsole(bundle)
}

// newConsole builds the console handler over any file system laid out like
// the Vite output, so tests can use an fstest.MapFS.
func newConsole(bundle fs.FS) http.Handler {
	return newSite(bundle, site{
		what:     "console",
		title:    "Wallet admin console",
		endpoint: "/admin/query",
		spa:      true,
		header: http.Header{
			"Content-Security-Policy": {consoleCSP},
			"X-Frame-Options":         {"DENY"},
			"Referrer-Policy":         {"no-referrer"},
		},
	})
}
