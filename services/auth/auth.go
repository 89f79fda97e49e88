// Package auth verifies and mints the bearer tokens (HS256 JWTs) that clients send, and carries
// the caller's identity through a request's context.
package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/springwallet/wallet/services/errs"
)

// The contract's roles.
const (
	RoleUser     = "user"
	RoleIssuer   = "issuer"
	RoleViewer   = "viewer"
	RoleOperator = "operator"
	RoleAdmin    = "admin"
)

// DevSecret signs bearer tokens when WALLET_JWT_SECRET is unset; it is public, so the server
// warns when it is in use.
const DevSecret = "wallet-development-secret-do-not-use-in-production"

// Principal is the authenticated caller.
type Principal struct {
	ActID int64
	AppID int
	Roles []string
}

// Has reports whether the caller holds role. Admin roles nest: admin ⊃ operator ⊃ viewer.
func (p *Principal) Has(role string) bool {
	if p == nil {
		return false
	}
	for _, r := range p.Roles {
		if r == role {
			return true
		}
		switch role {
		case RoleViewer:
			if r == RoleOperator || r == RoleAdmin {
				return true
			}
		case RoleOperator:
			if r == RoleAdmin {
				return true
			}
		}
	}
	return false
}

// Claims is the bearer token's payload.
type Claims struct {
	ActID int64    `json:"act_id"`
	AppID int      `json:"app_id"`
	Roles []string `json:"roles,omitempty"`
	jwt.RegisteredClaims
}

// Lifetimes bound how far in the future a bearer token's exp may lie: a stolen token is
// worth only as long as it lives.
type Lifetimes struct {
	// Max applies to every token but a service token.
	Max time.Duration
	// Service applies to service tokens, whose roles are only issuer or viewer: activity
	// backends and Prometheus, which keep a token in their configuration. A token that can
	// act for a user or change anything is never one.
	Service time.Duration
}

// DefaultLifetimes allow 24 hours for every token.
func DefaultLifetimes() Lifetimes { return Lifetimes{Max: 24 * time.Hour, Service: 24 * time.Hour} }

// Verifier checks bearer tokens with one HS256 secret.
type Verifier struct {
	secret []byte
	parser *jwt.Parser
	life   Lifetimes
	now    func() time.Time
}

// leeway is the clock skew tolerated between the token's minter and this server.
const leeway = 5 * time.Second

// NewVerifier returns a Verifier for secret whose tokens may live at most life (zero fields:
// the defaults).
func NewVerifier(secret string, life Lifetimes) *Verifier {
	def := DefaultLifetimes()
	if life.Max <= 0 {
		life.Max = def.Max
	}
	if life.Service <= 0 {
		life.Service = def.Service
	}
	return &Verifier{
		secret: []byte(secret),
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(leeway)),
		life:   life,
		now:    time.Now,
	}
}

// Verify parses a bearer token into a Principal; any flaw is UNAUTHENTICATED: a bad signature,
// an exp that is not a number, in the past or further ahead than the token's lifetime allows,
// a roles claim that is present but empty or not a list of names, no act_id.
func (v *Verifier) Verify(token string) (*Principal, error) {
	var c Claims
	_, err := v.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.secret, nil })
	if err != nil {
		msg := "invalid bearer token"
		if errors.Is(err, jwt.ErrTokenExpired) {
			msg = "bearer token expired"
		}
		return nil, errs.E(errs.Unauthenticated, "%s", msg)
	}
	if err := checkRawClaims(token); err != nil {
		return nil, err
	}
	if c.ActID <= 0 {
		return nil, errs.E(errs.Unauthenticated, "bearer token has no act_id")
	}
	roles := c.Roles
	if roles == nil {
		roles = []string{RoleUser}
	}
	for _, r := range roles {
		if r == "" {
			return nil, errs.E(errs.Unauthenticated, "bearer token roles must be role names")
		}
	}
	max := v.life.Max
	if isService(roles) {
		max = v.life.Service
	}
	if left := c.ExpiresAt.Time.Sub(v.now()); left > max+leeway {
		return nil, errs.E(errs.Unauthenticated, "bearer token lives too long: exp may be at most %s ahead", max)
	}
	if c.AppID < 1 || c.AppID > 8 {
		// Apps are 1..8; admin and issuer tokens may come from tools outside the apps.
		if slices.Contains(roles, RoleUser) {
			return nil, errs.E(errs.Unauthenticated, "bearer token app_id must be 1..8")
		}
	}
	return &Principal{ActID: c.ActID, AppID: c.AppID, Roles: roles}, nil
}

// isService reports whether roles are a service token's: only issuer and viewer.
func isService(roles []string) bool {
	for _, r := range roles {
		if r != RoleIssuer && r != RoleViewer {
			return false
		}
	}
	return true
}

// checkRawClaims checks what the JWT library is lenient about, on the signed payload itself:
// exp must be a JSON number (not a string), and roles, when present, a non-empty list (an
// empty list or null must not quietly mean "user").
func checkRawClaims(token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errs.E(errs.Unauthenticated, "invalid bearer token")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return errs.E(errs.Unauthenticated, "invalid bearer token")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		return errs.E(errs.Unauthenticated, "invalid bearer token")
	}
	if exp := bytes.TrimSpace(raw["exp"]); len(exp) == 0 || !(exp[0] >= '0' && exp[0] <= '9') {
		return errs.E(errs.Unauthenticated, "bearer token exp must be a number of seconds")
	}
	if r, ok := raw["roles"]; ok {
		var roles []string
		if err := json.Unmarshal(r, &roles); err != nil || len(roles) == 0 {
			return errs.E(errs.Unauthenticated, "bearer token roles must be a non-empty list, or absent (user)")
		}
	}
	return nil
}

// Mint signs a bearer token; the `token` command and tests use it.
func Mint(secret string, actID int64, appID int, roles []string, ttl time.Duration) (string, error) {
	c := Claims{
		ActID: actID, AppID: appID, Roles: roles,
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(ttl)), IssuedAt: jwt.NewNumericDate(time.Now())},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign bearer token: %w", err)
	}
	return s, nil
}

// BearerToken extracts the token from an Authorization header value ("" when absent).
func BearerToken(header string) string {
	const prefix = "bearer "
	if len(header) > len(prefix) && strings.EqualFold(header[:len(prefix)], prefix) {
		return strings.TrimSpace(header[len(prefix):])
	}
	return ""
}

type ctxKey struct{}

type ctxVal struct {
	p   *Principal
	err error
}

// WithPrincipal stores the caller (or the reason there is none) in ctx.
func WithPrincipal(ctx context.Context, p *Principal, err error) context.Context {
	return context.WithValue(ctx, ctxKey{}, ctxVal{p: p, err: err})
}

// FromContext returns the caller, or UNAUTHENTICATED saying why there is none.
func FromContext(ctx context.Context) (*Principal, error) {
	v, _ := ctx.Value(ctxKey{}).(ctxVal)
	if v.p != nil {
		return v.p, nil
	}
	if v.err != nil {
		return nil, v.err
	}
	return nil, errs.E(errs.Unauthenticated, "a bearer token is required")
}

// Require returns the caller when it holds one of roles, else UNAUTHENTICATED or FORBIDDEN.
func Require(ctx context.Context, roles ...string) (*Principal, error) {
	p, err := FromContext(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		if p.Has(r) {
			return p, nil
		}
	}
	return nil, errs.E(errs.Forbidden, "this needs role %s", strings.Join(roles, " or "))
}

type requestIDKey struct{}

// WithRequestID stores the id of the request being served, for logs, audit entries and
// INTERNAL errors.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the id of the request ctx belongs to ("" outside a request).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
