// Package gqlhttp assembles a gqlgen executable schema into an HTTP handler the way both of
// the wallet's GraphQL endpoints need it: its own transports (a body limit, coded errors for
// malformed requests, the GraphQL-over-HTTP status codes), document limits checked before
// validation, a query cache bounded in bytes, a complexity limit, one error presenter for
// the contract's codes, panic recovery and metrics.
package gqlhttp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/springwallet/wallet/ratelimit"
	"github.com/springwallet/wallet/services/auth"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/switches"
)

// ComplexityLimit is the most a document may cost (every field 1, a connection its first ×
// its selection).
const ComplexityLimit = 2000

func init() {
	// A document refused for its cost is refused whole, like one that fails validation, so it
	// gets the same HTTP status (400 with application/graphql-response+json).
	errcode.RegisterErrorType("COMPLEXITY_LIMIT_EXCEEDED", errcode.KindProtocol)
}

// Options configure a GraphQL endpoint.
type Options struct {
	// Schema labels metrics: "wallet" or "admin".
	Schema  string
	Log     *slog.Logger
	Metrics *Metrics
	Auth    *auth.Verifier
	// Limits rate-limits operations per account (nil: none).
	Limits *ratelimit.Policy
	// Redis backs the automatic persisted query cache (nil: no APQ).
	Redis redis.UniversalClient
	// Switches turn APQ and cost reporting off (required).
	Switches switches.Reader
	// MaxBodyBytes bounds a POST body (0: DefaultMaxBodyBytes); a larger one is refused with
	// HTTP 413 before more than this much of it is read.
	MaxBodyBytes int64
}

// ParserTokenLimit bounds how many tokens a document may have before parsing stops: a huge
// document is refused before it costs memory.
const ParserTokenLimit = 15_000

// New returns the HTTP handler serving es.
func New(es graphql.ExecutableSchema, o Options) http.Handler {
	if o.Switches == nil || o.Log == nil || o.Metrics == nil || o.Auth == nil {
		panic("gqlhttp.New: Options.Switches, Log, Metrics and Auth are required") // a wiring mistake
	}
	maxBody := o.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	cache := newDocCache(QueryCacheBytes, o.Metrics, o.Schema)
	srv := handler.New(es)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(getTransport{})
	srv.AddTransport(postTransport{maxBody: maxBody})
	srv.AddTransport(otherMethods{})
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(ParserTokenLimit)
	srv.SetValidationRulesFn(validationRules(o.Metrics, o.Schema))
	srv.Use(extension.Introspection{})
	// Order matters: APQ first (it may put the document text in place), then the limits on
	// that text, before gqlgen parses and validates it.
	if o.Redis != nil {
		srv.Use(newPersistedQueries(apqCache{rdb: o.Redis, sw: o.Switches, ttl: 7 * 24 * time.Hour}))
	}
	srv.Use(&preflight{schema: o.Schema, cache: cache, metrics: o.Metrics})
	srv.Use(extension.FixedComplexityLimit(ComplexityLimit))
	srv.SetErrorPresenter(presenter(o.Log))
	if o.Limits != nil {
		srv.Use(rateLimit{o.Limits})
	}
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		// The panic value may hold client input of any size; the stack is the useful part.
		o.Log.Error("panic in resolver", "request_id", RequestID(ctx), "panic", truncate(fmt.Sprint(p), maxLoggedBytes), "stack", string(debug.Stack()))
		return errors.New("panic") // presented as INTERNAL with the request id
	})
	if o.Metrics != nil {
		srv.AroundResponses(o.Metrics.observe(o.Schema))
	}
	srv.AroundResponses(costReport(o.Switches))
	var h http.Handler = srv
	h = statusCodes(h)
	h = authenticate(o.Auth, h)
	return withRequestID(h)
}

// RequestID is the id of the request ctx belongs to, as logged and as told to clients on
// INTERNAL errors.
func RequestID(ctx context.Context) string { return auth.RequestID(ctx) }

func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(auth.WithRequestID(r.Context(), id)))
	})
}

// authenticate puts the caller into the context. A missing or bad token is not refused here:
// authorization is per field, so `{ __typename }` and introspection work without one.
func authenticate(v *auth.Verifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := auth.BearerToken(r.Header.Get("Authorization")); tok != "" {
			p, err := v.Verify(tok)
			r = r.WithContext(auth.WithPrincipal(r.Context(), p, err))
		} else if r.Header.Get("Authorization") != "" {
			r = r.WithContext(auth.WithPrincipal(r.Context(), nil, errs.E(errs.Unauthenticated, "the Authorization header must be \"Bearer <token>\"")))
		}
		next.ServeHTTP(w, r)
	})
}

// statusCodes puts the request's state in its context for the GraphQL layer to fill, and
// applies what it says: a request refused whole by a rate limit is HTTP 429 with Retry-After;
// every limited request carries the RateLimit headers. (The transports set the
// GraphQL-over-HTTP statuses of malformed requests and documents themselves.)
func statusCodes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{}
		next.ServeHTTP(&statusWriter{ResponseWriter: w, st: st}, r.WithContext(context.WithValue(r.Context(), reqStateKey{}, st)))
	})
}

// reqState is what the GraphQL layer tells the HTTP layer about a request.
type reqState struct {
	mu       sync.Mutex
	decision *ratelimit.Decision
	limited  time.Duration // > 0: refused by a rate limit, retry after this long
	// docQuery is the document text the preflight checked, docKey its normalized key and
	// docTokens its token count, so the query cache need not lex the text again.
	docQuery  string
	docKey    string
	docTokens int
	// apqHash and apqQuery are a persisted query to store once it validated.
	apqHash, apqQuery string
}

type reqStateKey struct{}

func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(reqStateKey{}).(*reqState)
	return st
}

func (st *reqState) rememberDocument(query, key string, tokens int) {
	if st == nil {
		return
	}
	st.mu.Lock()
	st.docQuery, st.docKey, st.docTokens = query, key, tokens
	st.mu.Unlock()
}

func (st *reqState) refuse(after time.Duration) {
	if st == nil {
		return
	}
	st.mu.Lock()
	st.limited = max(st.limited, after, time.Millisecond)
	st.mu.Unlock()
}

type statusWriter struct {
	http.ResponseWriter
	st    *reqState
	wrote bool
}

func (s *statusWriter) WriteHeader(code int) {
	if s.wrote {
		return
	}
	s.wrote = true
	s.st.mu.Lock()
	d, limited := s.st.decision, s.st.limited
	s.st.mu.Unlock()
	if d != nil {
		h := s.Header()
		h.Set("RateLimit-Limit", strconv.Itoa(d.Limit.Burst))
		h.Set("RateLimit-Remaining", strconv.Itoa(max(d.Remaining, 0)))
		h.Set("RateLimit-Reset", strconv.Itoa(int(math.Ceil(d.ResetAfter.Seconds()))))
		h.Set("RateLimit-Policy", fmt.Sprintf("%d;w=%d;burst=%d", d.Limit.Rate, int(d.Limit.Period.Seconds()), d.Limit.Burst))
	}
	if limited > 0 && code == http.StatusOK {
		code = http.StatusTooManyRequests
		s.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(limited.Seconds())))))
	}
	s.ResponseWriter.WriteHeader(code)
}

// rateLimit refuses a whole operation when its account is over its limit.
type rateLimit struct{ p *ratelimit.Policy }

func (rateLimit) ExtensionName() string                   { return "RateLimit" }
func (rateLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (e rateLimit) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil {
		return next(ctx)
	}
	d := e.p.ForOperation(ctx, string(oc.Operation.Operation))
	if d == nil {
		return next(ctx)
	}
	st := stateOf(ctx)
	if st != nil {
		st.mu.Lock()
		st.decision = d
		st.mu.Unlock()
	}
	if d.Allowed {
		return next(ctx)
	}
	st.refuse(d.RetryAfter)
	return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
		Message:    "too many requests; retry later",
		Extensions: map[string]any{"code": string(errs.RateLimited), "retryAfterMs": max(1, d.RetryAfter.Milliseconds())},
	}}})
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// presenter maps domain errors to the contract's codes; gqlgen's own errors (parse,
// validation, complexity) keep theirs; anything else is INTERNAL with a request id and no
// detail, and is logged.
func presenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		var de *errs.Error
		if errors.As(err, &de) {
			gerr.Message = de.Message
			gerr.Extensions = map[string]any{"code": string(de.Code)}
			if de.Field != "" {
				gerr.Extensions["field"] = de.Field
			}
			if de.Code == errs.RateLimited {
				gerr.Extensions["retryAfterMs"] = max(1, de.RetryAfter.Milliseconds())
				stateOf(ctx).refuse(de.RetryAfter)
			}
			return gerr
		}
		if _, ok := gerr.Extensions["code"]; ok {
			return gerr
		}
		id := RequestID(ctx)
		// Capped: an error may quote client input, and a log line must stay a line.
		log.Error("internal error", "request_id", id, "path", truncate(gerr.Path.String(), maxLoggedBytes), "err", truncate(err.Error(), maxLoggedBytes))
		return &gqlerror.Error{
			Message:    "internal error (request " + id + ")",
			Path:       gerr.Path,
			Extensions: map[string]any{"code": string(errs.Internal), "requestId": id},
		}
	}
}

// maxLoggedBytes caps each value logged from a request: never a whole body or document.
const maxLoggedBytes = 512

// writeGrace is how long after its handler timeout a request may take to write its answer.
const writeGrace = 5 * time.Second

// Timeout bounds a request's context; the rest of the system sees the deadline. It also sets
// the connection's write deadline to d plus writeGrace, replacing the server's write timeout
// for this request: the answer, a coded timeout error included, gets time to be written, and a
// client reading it slowly holds the connection no longer than that.
func Timeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d + writeGrace)) // unsupported writers keep the server's
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
