package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/springwallet/wallet/graph/gqlhttp"
	"github.com/springwallet/wallet/internal/testenv"
)

// The attacks of issue 9 that need no token (items 5, 6, 7, 8, 10, 11, 14 and 15), each
// written as the attack: every test here failed on the code before the fix.

// logBuffer is a server log a test reads.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newHostileTestServer is newTestServer with the server's log kept, the configuration
// adjusted by configure (nil: none), and, when timeouts is set, served by the production
// http.Server (newHTTPServer) with those timeouts instead of httptest's bare one.
func newHostileTestServer(t *testing.T, configure func(*config), timeouts *serverTimeouts) (*testServer, *logBuffer) {
	t.Helper()
	testenv.Redis(t, testenv.DBServer)
	clk := &testClock{}
	cfg := config{DatabaseURL: testenv.SQLiteURL(t), RedisURL: testenv.RedisURL(testenv.DBServer), JWTSecret: testSecret, DataDir: t.TempDir(),
		Seed: true, Now: clk.Now}
	if configure != nil {
		configure(&cfg)
	}
	logs := &logBuffer{}
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.start(context.Background())
	h := a.handler()
	srv := httptest.NewUnstartedServer(h)
	if timeouts != nil {
		srv.Config = newHTTPServer(h, *timeouts)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close(); a.close() })
	return &testServer{Server: srv, app: a, clock: clk}, logs
}

// rawResponse is an answer read as bytes, so tests can see which keys it has.
type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// fields decodes the answer's top level, failing the test when it is not a JSON object.
func (r rawResponse) fields(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer (%d) is not a JSON object: %.300s", r.Status, r.Body)
	}
	return m
}

// code is the first error's extensions.code.
func (r rawResponse) code(t *testing.T) string {
	t.Helper()
	var g gqlResponse
	if err := json.Unmarshal(r.Body, &g); err != nil {
		t.Fatalf("answer (%d) is not JSON: %.300s", r.Status, r.Body)
	}
	return g.code()
}

func (r rawResponse) message(t *testing.T) string {
	t.Helper()
	var g gqlResponse
	_ = json.Unmarshal(r.Body, &g)
	if len(g.Errors) == 0 {
		return ""
	}
	return g.Errors[0].Message
}

func send(t *testing.T, method, url, contentType string, body io.Reader, header ...string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func sendJSON(t *testing.T, url, body string, header ...string) rawResponse {
	t.Helper()
	return send(t, http.MethodPost, url, "application/json", strings.NewReader(body), header...)
}

// graphQLBody is a POST body for query and vars.
func graphQLBody(query string, vars map[string]any) string {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return string(b)
}

// metric reads one series from /metrics (0 when absent).
func metric(t *testing.T, s *testServer, series string) float64 {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return v
		}
	}
	return 0
}

// cpuTime is the CPU this process (test and in-process server) has used.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const validationsSeries = `wallet_graphql_validations_total{schema="wallet"}`

// TestDuplicateFieldsAreRefusedBeforeValidation is issue 9 item 5: a document of thousands of
// copies of one field cost validation seconds of CPU (its overlapping-fields check is
// quadratic) before the cost check refused it; four in parallel stalled both cores. Each is
// now refused by a limit before validation starts: the validations counter does not move,
// and four copies of each attack together take a fraction of a second of CPU.
func TestDuplicateFieldsAreRefusedBeforeValidation(t *testing.T) {
	s, _ := newHostileTestServer(t, nil, nil)
	// A normal document is validated once, then comes from the query cache.
	for range 3 {
		r := sendJSON(t, s.URL+"/query", graphQLBody(`{ __typename }`, nil))
		if r.Status != 200 || r.code(t) != "" {
			t.Fatalf("{ __typename }: %d %s", r.Status, r.Body)
		}
	}
	if n := metric(t, s, validationsSeries); n != 1 {
		t.Fatalf("%s = %v after one document sent three times, want 1", validationsSeries, n)
	}
	nested := "name"
	for range 7 {
		nested = strings.Repeat("ofType { "+nested+" } ", 3)
	}
	attacks := []struct{ name, query, want string }{
		// Issue 9's document: 165 KB, 14,992 tokens, under the token limit; ~12 s to validate.
		{"15,000 duplicate fields", "{ " + strings.Repeat("__typename ", 14_990) + "}", "bytes long"},
		// Under the byte limit: ~1.1 s to validate.
		{"5,000 duplicate fields in 55 KB", "{ " + strings.Repeat("__typename ", 5_000) + "}", "more than 100 fields"},
		// Three copies of a field at every level, seven deep: ~0.6 s to validate, 48 KB.
		{"nested duplicates", `{ __type(name: "Wallet") { ` + nested + " } }", "same response name"},
		{"fifty levels deep", `{ __type(name: "Wallet") { ` + strings.Repeat("ofType { ", 50) + "name" + strings.Repeat(" }", 50) + " } }", "levels deep"},
		{"introspection ten times", "{ " + strings.Repeat(`__type(name: "Wallet") { name } `, 10) + "}", "__schema or __type"},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			before, cpu0, start := metric(t, s, validationsSeries), cpuTime(t), time.Now()
			var wg sync.WaitGroup
			results := make([]rawResponse, 4)
			for i := range results {
				wg.Go(func() {
					results[i] = sendJSON(t, s.URL+"/query", graphQLBody(a.query, nil), "Accept", "application/graphql-response+json")
				})
			}
			wg.Wait()
			cpu, wall := cpuTime(t)-cpu0, time.Since(start)
			for _, r := range results {
				if r.Status != 400 || r.code(t) != "COMPLEXITY_LIMIT_EXCEEDED" || !strings.Contains(r.message(t), a.want) ||
					r.Header.Get("Content-Type") != "application/graphql-response+json" {
					t.Fatalf("got %d %s %q, want 400 COMPLEXITY_LIMIT_EXCEEDED (%s): %.300s", r.Status, r.Header.Get("Content-Type"), r.code(t), a.want, r.Body)
				}
				if _, ok := r.fields(t)["data"]; ok {
					t.Fatalf("a refused document's answer has data: %.300s", r.Body)
				}
			}
			if after := metric(t, s, validationsSeries); after != before {
				t.Fatalf("validation ran: %s went from %v to %v", validationsSeries, before, after)
			}
			t.Logf("4 × %d bytes refused: %s CPU, %s wall", len(a.query), cpu.Round(time.Millisecond), wall.Round(time.Millisecond))
			if cpu > time.Second {
				t.Fatalf("refusing four copies took %s of CPU", cpu)
			}
		})
	}
	if n := metric(t, s, `wallet_graphql_documents_refused_total{limit="bytes",schema="wallet"}`); n != 4 {
		t.Errorf("documents refused for their bytes = %v, want 4", n)
	}
}

// TestRequestBodiesAreLimited is issue 9 item 6: a 50 MB body was read whole and executed.
// Over the limit (256 KiB by default, WALLET_MAX_BODY_BYTES) it is 413 with a coded body,
// after reading no more than the limit.
func TestRequestBodiesAreLimited(t *testing.T) {
	s, _ := newHostileTestServer(t, nil, nil)
	lookup := `query($n: String!) { __type(name: $n) { name } }`
	under := sendJSON(t, s.URL+"/query", graphQLBody(lookup, map[string]any{"n": strings.Repeat("x", 200<<10)}))
	if under.Status != 200 || under.code(t) != "" {
		t.Fatalf("a 200 KB body: %d %.300s", under.Status, under.Body)
	}
	checkTooLarge := func(t *testing.T, r rawResponse) {
		t.Helper()
		if r.Status != http.StatusRequestEntityTooLarge || r.code(t) != "BAD_USER_INPUT" || !strings.Contains(r.message(t), "256 KiB") {
			t.Fatalf("got %d %q, want 413 BAD_USER_INPUT naming the limit: %.300s", r.Status, r.code(t), r.Body)
		}
		if _, ok := r.fields(t)["data"]; ok {
			t.Fatalf("data in a refused request's answer: %s", r.Body)
		}
	}
	t.Run("300 KB", func(t *testing.T) {
		checkTooLarge(t, sendJSON(t, s.URL+"/query", graphQLBody(lookup, map[string]any{"n": strings.Repeat("x", 300<<10)})))
	})
	t.Run("50 MB streamed without a length", func(t *testing.T) {
		// Over a raw connection: the server answers and closes while the client is still
		// sending, and net/http's client may report its failed write instead of the answer.
		c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var written atomic.Int64
		go func() {
			fmt.Fprintf(c, "POST /query HTTP/1.1\r\nHost: wallet\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
			chunk := fmt.Appendf(nil, "%x\r\n%s\r\n", 64<<10, bytes.Repeat([]byte("x"), 64<<10))
			for written.Load() < 50<<20 {
				if _, err := c.Write(chunk); err != nil {
					return
				}
				written.Add(64 << 10)
			}
		}()
		start := time.Now()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer after %s: %v", time.Since(start), err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkTooLarge(t, rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: b})
		t.Logf("answered after %s, %d KB sent by then", time.Since(start).Round(time.Millisecond), written.Load()>>10)
		if written.Load() >= 50<<20 {
			t.Fatal("the server read the whole 50 MB")
		}
	})
	t.Run("a declared 50 MB length", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/query", io.LimitReader(zeros{}, 50<<20))
		req.ContentLength = 50 << 20
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkTooLarge(t, rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: b})
	})

	// The limit is the configured one.
	small, _ := newHostileTestServer(t, func(c *config) { c.MaxBodyBytes = 4 << 10 }, nil)
	if r := sendJSON(t, small.URL+"/admin/query", graphQLBody(lookup, map[string]any{"n": strings.Repeat("x", 5<<10)})); r.Status != 413 || !strings.Contains(r.message(t), "4 KiB") {
		t.Fatalf("5 KB with WALLET_MAX_BODY_BYTES=4096: %d %.300s", r.Status, r.Body)
	}
	if r := sendJSON(t, small.URL+"/query", graphQLBody(lookup, map[string]any{"n": strings.Repeat("x", 3<<10)})); r.Status != 200 {
		t.Fatalf("3 KB with WALLET_MAX_BODY_BYTES=4096: %d %.300s", r.Status, r.Body)
	}
}

// zeros is an endless reader.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestQueryCacheIsBoundedInBytes is issue 9 item 7: the parsed-query cache was keyed by the
// full text and bounded only in entries, so documents padded with large comments grew the
// process by hundreds of MB, for good. Variants of one document now share an entry, and a
// thousand distinct padded documents (60 MB of text) leave the cache under its byte bound
// and the heap near where it was.
func TestQueryCacheIsBoundedInBytes(t *testing.T) {
	s, _ := newHostileTestServer(t, nil, nil)
	entries := func() float64 { return metric(t, s, `wallet_graphql_query_cache_entries{schema="wallet"}`) }
	// A 10 MB comment does not get as far as the cache.
	if r := sendJSON(t, s.URL+"/query", graphQLBody("#"+strings.Repeat("x", 10<<20)+"\n{ __typename }", nil)); r.Status != 413 {
		t.Fatalf("a 10 MB comment: %d %.200s", r.Status, r.Body)
	}
	pad := "#" + strings.Repeat("x", 60_000) + "\n"
	for i := range 100 {
		if r := sendJSON(t, s.URL+"/query", graphQLBody(pad+"# variant "+strconv.Itoa(i)+"\n{ __typename }", nil)); r.Status != 200 || r.code(t) != "" {
			t.Fatalf("padded variant %d: %d %.200s", i, r.Status, r.Body)
		}
	}
	if n := entries(); n != 1 {
		t.Fatalf("100 comment variants of one document: %v cache entries, want 1", n)
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range 1000 {
		q := pad + "{ a" + strconv.Itoa(i) + ": __typename }"
		if r := sendJSON(t, s.URL+"/query", graphQLBody(q, nil)); r.Status != 200 || r.code(t) != "" {
			t.Fatalf("padded document %d: %d %.200s", i, r.Status, r.Body)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	size, n := metric(t, s, `wallet_graphql_query_cache_bytes{schema="wallet"}`), entries()
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("after 1,000 documents of 60 KB: cache %d entries, %.1f MiB charged; heap grew %.1f MiB", int(n), size/(1<<20), float64(growth)/(1<<20))
	if size <= 0 || size > gqlhttp.QueryCacheBytes {
		t.Fatalf("cache holds %v bytes, want (0, %d]", size, gqlhttp.QueryCacheBytes)
	}
	if n >= 1000 || n < 10 {
		t.Fatalf("%v entries: the cache must have evicted, and kept some", n)
	}
	if growth > 2*gqlhttp.QueryCacheBytes {
		t.Fatalf("the heap grew by %d bytes", growth)
	}
}

// TestPersistedQueriesStoreOnlyValidatedDocuments is issue 9 item 8: any text sent with its
// sha256 was stored in Redis for 7 days before being parsed. Now only a document that parsed,
// passed the limits and validated is.
func TestPersistedQueriesStoreOnlyValidatedDocuments(t *testing.T) {
	s, _ := newHostileTestServer(t, nil, nil)
	register := func(t *testing.T, text string) (rawResponse, bool) {
		t.Helper()
		sum := sha256.Sum256([]byte(text))
		hash := hex.EncodeToString(sum[:])
		body, _ := json.Marshal(map[string]any{"query": text, "extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}})
		r := sendJSON(t, s.URL+"/query", string(body))
		return r, s.app.rdb.Exists(t.Context(), "w:apq:"+hash).Val() == 1
	}
	refused := []struct{ name, text, code string }{
		{"100 KB that is not GraphQL", strings.Repeat("not graphql ", 100<<10/12), "COMPLEXITY_LIMIT_EXCEEDED"},
		{"10 KB that is not GraphQL", strings.Repeat("<html> ", 10<<10/7), "GRAPHQL_PARSE_FAILED"},
		{"a document that does not validate", "{ nope }", "GRAPHQL_VALIDATION_FAILED"},
		{"a document over a limit", "{ " + strings.Repeat("__typename ", 200) + "}", "COMPLEXITY_LIMIT_EXCEEDED"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r, stored := register(t, tc.text)
			if r.code(t) != tc.code {
				t.Fatalf("got %q, want %s: %.300s", r.code(t), tc.code, r.Body)
			}
			if stored {
				t.Fatal("stored in Redis")
			}
		})
	}
	r, stored := register(t, `{ __typename }`)
	if !stored || r.code(t) != "" {
		t.Fatalf("a valid document: stored %v: %.300s", stored, r.Body)
	}
	if n := s.app.rdb.DBSize(t.Context()).Val(); n > 200 {
		t.Fatalf("%d keys in Redis", n)
	}
}

// TestMalformedBodiesAreCodedAndNotLogged is issue 9 item 10: malformed bodies made the cost
// reporter panic, clients got INTERNAL, and the log got the whole body and a stack trace. Each
// is now BAD_USER_INPUT with the GraphQL-over-HTTP status, and the log holds neither.
func TestMalformedBodiesAreCodedAndNotLogged(t *testing.T) {
	s, logs := newHostileTestServer(t, nil, nil)
	const marker = "MARKER-7f3a"
	padding := strings.Repeat(marker, 10_000) // 110 KB
	cases := []struct {
		name, body string
		status     int
	}{
		{"a JSON array", `["` + padding + `"]`, 400},
		{"query a number", `{"query":5,"x":"` + padding + `"}`, 400},
		{"query an object", `{"query":{"q":"` + padding + `"}}`, 400},
		{"variables an array", `{"query":"{ __typename }","variables":["` + padding + `"]}`, 400},
		{"variables a string", `{"query":"{ __typename }","variables":"` + padding + `"}`, 400},
		{"extensions a number", `{"query":"{ __typename }","extensions":5}`, 400},
		{"operationName a boolean", `{"query":"{ __typename }","operationName":true}`, 400},
		{"not JSON", "not json " + padding, 400},
		{"truncated JSON", `{"query":"{ __typename }` + padding, 400},
		{"two objects", `{"query":"{ __typename }"}{"query":"` + padding + `"}`, 400},
		{"empty", ``, 400},
		{"APQ hash mismatch", `{"query":"{ __typename } # ` + padding + `","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + strings.Repeat("0", 64) + `"}}}`, 400},
		{"APQ extension not an object", `{"query":"{ __typename }","extensions":{"persistedQuery":"` + marker + `"}}`, 400},
		{"APQ version 2", `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":2,"sha256Hash":"` + marker + `"}}}`, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, accept := range []string{"application/json", "application/graphql-response+json"} {
				r := sendJSON(t, s.URL+"/query", tc.body, "Accept", accept)
				if r.Status != tc.status || r.code(t) != "BAD_USER_INPUT" {
					t.Fatalf("Accept %s: got %d %q, want %d BAD_USER_INPUT: %.300s", accept, r.Status, r.code(t), tc.status, r.Body)
				}
				if strings.Contains(string(r.Body), marker) {
					t.Fatalf("the answer repeats the body: %.300s", r.Body)
				}
				if _, ok := r.fields(t)["data"]; ok {
					t.Fatalf("data in the answer to a request never executed: %.300s", r.Body)
				}
			}
		})
	}
	if r := send(t, http.MethodPost, s.URL+"/query", "text/plain", strings.NewReader(`{"query":"{ __typename }"}`)); r.Status != 415 || r.code(t) != "BAD_USER_INPUT" {
		t.Fatalf("a text/plain body: %d %.300s", r.Status, r.Body)
	}
	if r := send(t, http.MethodPost, s.URL+"/admin/query", "application/json", strings.NewReader(`[`+padding+`]`)); r.Status != 400 || r.code(t) != "BAD_USER_INPUT" {
		t.Fatalf("the admin endpoint: %d %.300s", r.Status, r.Body)
	}
	log := logs.String()
	for _, leak := range []string{marker, "panic", "goroutine ", "internal error"} {
		if strings.Contains(log, leak) {
			t.Errorf("the log holds %q:\n%.2000s", leak, log)
		}
	}
	for _, line := range strings.Split(log, "\n") {
		if len(line) > 2048 {
			t.Errorf("a %d-byte log line: %.300s", len(line), line)
		}
	}
}

// TestServerTimeoutsCutSlowClients is issue 9 item 11: only ReadHeaderTimeout was set, so an
// idle keep-alive connection, or a body trickled a byte every two seconds, held its
// connection and handler indefinitely. The server serve runs (newHTTPServer) now bounds
// reading, writing and idling; here with short timeouts, the defaults checked apart.
func TestServerTimeoutsCutSlowClients(t *testing.T) {
	d := defaultServerTimeouts
	if d.ReadHeader <= 0 || d.Read < d.ReadHeader || d.Write <= 10*time.Second || d.Idle <= 0 || d.Read > time.Minute || d.Idle > 5*time.Minute {
		t.Fatalf("default timeouts %+v: want read, write (longer than /query's 10 s) and idle set", d)
	}
	if srv := newHTTPServer(http.NotFoundHandler(), d); srv.ReadTimeout != d.Read || srv.WriteTimeout != d.Write || srv.IdleTimeout != d.Idle || srv.ReadHeaderTimeout != d.ReadHeader {
		t.Fatalf("newHTTPServer does not apply the timeouts: %+v", srv)
	}
	s, _ := newHostileTestServer(t, nil, &serverTimeouts{ReadHeader: 500 * time.Millisecond, Read: time.Second, Write: 2 * time.Second, Idle: time.Second})
	addr := strings.TrimPrefix(s.URL, "http://")

	t.Run("a trickled body", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /query HTTP/1.1\r\nHost: wallet\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
		start := time.Now()
		stop := make(chan struct{})
		defer close(stop)
		go func() { // a byte every 200 ms: 1,000 bytes would take 200 s
			for {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
				}
			}
		}()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		answer, _ := io.ReadAll(c) // the answer, if any, until the server closes
		if took := time.Since(start); took > 4*time.Second {
			t.Fatalf("the connection was held %s, want it cut after the 1 s read timeout", took)
		} else {
			t.Logf("cut after %s: %.80q", took.Round(10*time.Millisecond), answer)
		}
	})

	t.Run("an idle keep-alive connection", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: wallet\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("healthz: %d, close %v", resp.StatusCode, resp.Close)
		}
		start := time.Now()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = br.ReadByte()
		var ne net.Error
		if took := time.Since(start); took > 4*time.Second || errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the idle connection was held %s (%v), want it closed after the 1 s idle timeout", took, err)
		} else {
			t.Logf("closed after %s idle (%v)", took.Round(10*time.Millisecond), err)
		}
	})
}

// TestGraphQLOverHTTPRefusals is issue 9 item 14: a mutation over GET answered 406 with no
// code (GraphQL-over-HTTP says 405), and parse and validation failures carried "data".
func TestGraphQLOverHTTPRefusals(t *testing.T) {
	s, _ := newHostileTestServer(t, nil, nil)
	r := send(t, http.MethodGet, s.URL+"/query?query="+urlQuery(`mutation { __typename }`), "", nil)
	if r.Status != 405 || !strings.Contains(r.Header.Get("Allow"), "POST") || r.code(t) != "BAD_USER_INPUT" {
		t.Fatalf("a mutation over GET: %d Allow %q: %s", r.Status, r.Header.Get("Allow"), r.Body)
	}
	if r := send(t, http.MethodPut, s.URL+"/query", "application/json", strings.NewReader(`{"query":"{ __typename }"}`)); r.Status != 405 || r.code(t) != "BAD_USER_INPUT" || r.Header.Get("Allow") == "" {
		t.Fatalf("PUT: %d Allow %q: %s", r.Status, r.Header.Get("Allow"), r.Body)
	}
	if r := send(t, http.MethodGet, s.URL+"/query?query="+urlQuery(`{ __typename }`)+"&variables=%5B1%5D", "", nil); r.Status != 400 || r.code(t) != "BAD_USER_INPUT" {
		t.Fatalf("GET with variables [1]: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct{ query, code string }{{`{ wallet(`, "GRAPHQL_PARSE_FAILED"}, {`{ nope }`, "GRAPHQL_VALIDATION_FAILED"}} {
		for _, accept := range []string{"application/graphql-response+json", "application/json"} {
			r := sendJSON(t, s.URL+"/query", graphQLBody(tc.query, nil), "Accept", accept)
			if r.code(t) != tc.code {
				t.Fatalf("%s: %s", tc.query, r.Body)
			}
			if _, ok := r.fields(t)["data"]; ok {
				t.Fatalf("%s (Accept %s): the answer has data: %s", tc.query, accept, r.Body)
			}
		}
	}
	// An error in execution keeps its data entry (null here: the field is non-null).
	r = sendJSON(t, s.URL+"/query", graphQLBody(`{ wallet(activityId: "spring-festival") { balance } }`, nil), "Accept", "application/graphql-response+json")
	if _, ok := r.fields(t)["data"]; !ok || r.code(t) != "UNAUTHENTICATED" || r.Status != 200 {
		t.Fatalf("an execution error: %d %s", r.Status, r.Body)
	}
}

func urlQuery(s string) string { return url.QueryEscape(s) }

// TestIntegersAreCheckedTheSameAsLiteralsAndVariables is issue 9 item 15: Int64 took the
// literal 9223372036854775808.0 and wrapped it to MinInt64, Int arguments took values past
// 32 bits (rainId: 2147483648), 100.0 was accepted as a literal but refused as a variable,
// and a message named a Go type. Now literal and variable get the same answer, in GraphQL's
// terms, and nothing is issued.
func TestIntegersAreCheckedTheSameAsLiteralsAndVariables(t *testing.T) {
	s, _ := newHostileTestServer(t, nil, nil)
	issuer := mint(t, 1, "issuer")
	const act = 1501
	literal := func(rain, amount string) string {
		return fmt.Sprintf(`{"query":"mutation { issueReward(input: {actId: %d, appId: 1, activityId: \"spring-festival\", sceneId: \"cash-rain\", rainId: %s, awardType: CASH, stage: 0, amount: %s}) { orderNo } }"}`,
			act, strings.ReplaceAll(rain, `"`, `\"`), strings.ReplaceAll(amount, `"`, `\"`))
	}
	variable := func(rain, amount string) string {
		return fmt.Sprintf(`{"query":"mutation($in: IssueRewardInput!) { issueReward(input: $in) { orderNo } }","variables":{"in":{"actId":%d,"appId":1,"activityId":"spring-festival","sceneId":"cash-rain","rainId":%s,"awardType":"CASH","stage":0,"amount":%s}}}`,
			act, rain, amount)
	}
	cases := []struct {
		name, rain, amount, code, msg string
	}{
		{"Int64 just past int64, as a Float", "1", "9223372036854775808.0", "BAD_USER_INPUT", "Int64 cannot represent"},
		{"Int64 as a whole Float", "2", "100.0", "BAD_USER_INPUT", "Int64 cannot represent"},
		{"Int64 with an exponent", "3", "1e2", "BAD_USER_INPUT", "Int64 cannot represent"},
		{"Int64 past int64", "4", "9223372036854775808", "GRAPHQL_VALIDATION_FAILED", "Int64 cannot represent non 64-bit signed integer value: 9223372036854775808"},
		{"Int64 below int64", "5", "-9223372036854775809", "GRAPHQL_VALIDATION_FAILED", "Int64 cannot represent non 64-bit signed integer value"},
		{"Int64 as a Boolean", "6", "true", "BAD_USER_INPUT", "Boolean"},
		{"Int64 as a String", "7", `"100"`, "BAD_USER_INPUT", "String"},
		{"Int past 32 bits", "2147483648", "1", "GRAPHQL_VALIDATION_FAILED", "Int cannot represent non 32-bit signed integer value: 2147483648"},
		{"Int below 32 bits", "-2147483649", "1", "GRAPHQL_VALIDATION_FAILED", "Int cannot represent non 32-bit signed integer value"},
		{"Int as a Float", "1.5", "1", "GRAPHQL_VALIDATION_FAILED", "Int cannot represent non-integer value: 1.5"},
		{"Int as a whole Float", "1.0", "1", "GRAPHQL_VALIDATION_FAILED", "Int cannot represent non-integer value: 1.0"},
		{"Int as a String", `"8"`, "1", "GRAPHQL_VALIDATION_FAILED", "Int cannot represent non-integer value"},
	}
	goNames := []string{"float64", "int64", "int32", "json.Number", "bool", "map[", "interface", "string", "got "}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for form, body := range map[string]string{"literal": literal(tc.rain, tc.amount), "variable": variable(tc.rain, tc.amount)} {
				r := sendJSON(t, s.URL+"/query", body, "Authorization", "Bearer "+issuer)
				if r.code(t) != tc.code || !strings.Contains(r.message(t), tc.msg) {
					t.Errorf("%s: got %q %q, want %s containing %q", form, r.code(t), r.message(t), tc.code, tc.msg)
				}
				for _, g := range goNames {
					if strings.Contains(r.message(t), g) {
						t.Errorf("%s: the message speaks Go (%q): %s", form, g, r.message(t))
					}
				}
			}
		})
	}
	// A top-level Int variable, checked the same way.
	feed := `query($f: Int!) { walletFeed(activityId: "spring-festival", first: $f) { degradedSources } }`
	for raw, want := range map[string]string{"2147483648": "non 32-bit", "10.0": "non-integer value: 10.0"} {
		r := sendJSON(t, s.URL+"/query", `{"query":"`+strings.ReplaceAll(feed, `"`, `\"`)+`","variables":{"f":`+raw+`}}`, "Authorization", "Bearer "+mint(t, act))
		if r.code(t) != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(r.message(t), want) {
			t.Errorf("first: %s: %s", raw, r.Body)
		}
	}
	// The bounds themselves are fine, and nothing above was issued.
	for form, body := range map[string]string{"literal": literal("2147483647", "1"), "variable": variable("2147483646", "1")} {
		if r := sendJSON(t, s.URL+"/query", body, "Authorization", "Bearer "+issuer); r.code(t) != "" {
			t.Fatalf("%s at the bounds: %s", form, r.Body)
		}
	}
	w := must(t, s.query(t, mint(t, act), walletQuery, map[string]any{"a": demoParent}))["wallet"].(map[string]any)
	if num(w["balance"]) != 2 {
		t.Fatalf("wallet = %v: only the two rewards at the bounds may be issued", w)
	}
}
