// Package gqlhttp assembles a gqlgen executable schema into an HTTP handler the way both of
// the wallet's GraphQL endpoints need it: explicit transports, a query cache, a complexity
// limit, one error presenter for the contract's codes, panic recovery, metrics, and the
// GraphQL-over-HTTP status codes.
package gqlhttp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/springwallet/wallet/services/auth"
	"github.com/springwallet/wallet/services/errs"
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
}

// New returns the HTTP handler serving es.
func New(es graphql.ExecutableSchema, o Options) http.Handler {
	srv := handler.New(es)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.Use(extension.FixedComplexityLimit(ComplexityLimit))
	srv.SetErrorPresenter(presenter(o.Log))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		o.Log.Error("panic in resolver", "request_id", RequestID(ctx), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return errors.New("panic") // presented as INTERNAL with the request id
	})
	if o.Metrics != nil {
		srv.AroundResponses(o.Metrics.observe(o.Schema))
	}
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

// statusCodes applies GraphQL-over-HTTP: a document that fails to parse or validate is 400
// with application/graphql-response+json but 200 with application/json (gqlgen answers 422).
func statusCodes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&statusWriter{ResponseWriter: w}, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	wrote bool
}

func (s *statusWriter) WriteHeader(code int) {
	if s.wrote {
		return
	}
	s.wrote = true
	if code == http.StatusUnprocessableEntity {
		if ct := s.Header().Get("Content-Type"); ct == "application/json" || ct == "" {
			code = http.StatusOK
		} else {
			code = http.StatusBadRequest
		}
	}
	s.ResponseWriter.WriteHeader(code)
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
			if de.RetryAfter > 0 {
				gerr.Extensions["retryAfterMs"] = de.RetryAfter.Milliseconds()
			}
			return gerr
		}
		if _, ok := gerr.Extensions["code"]; ok {
			return gerr
		}
		id := RequestID(ctx)
		log.Error("internal error", "request_id", id, "path", gerr.Path.String(), "err", err)
		return &gqlerror.Error{
			Message:    "internal error (request " + id + ")",
			Path:       gerr.Path,
			Extensions: map[string]any{"code": string(errs.Internal), "requestId": id},
		}
	}
}

// Timeout bounds a request's context; the rest of the system sees the deadline.
func Timeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
