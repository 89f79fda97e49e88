// Package auth verifies and mints the bearer tokens (HS256 JWTs) that clients send, and carries
// the caller's identity through a request's context.
package auth

import (
	"context"
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

// Verifier checks bearer tokens with one HS256 secret.
type Verifier struct {
	secret []byte
	parser *jwt.Parser
}

// NewVerifier returns a Verifier for secret.
func NewVerifier(secret string) *Verifier {
	return &Verifier{
		secret: []byte(secret),
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(5*time.Second)),
	}
}

// Verify parses a bearer token into a Principal; any flaw is UNAUTHENTICATED.
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
	if c.ActID <= 0 {
		return nil, errs.E(errs.Unauthenticated, "bearer token has no act_id")
	}
	roles := c.Roles
	if len(roles) == 0 {
		roles = []string{RoleUser}
	}
	if c.AppID < 1 || c.AppID > 8 {
		// Apps are 1..8; admin and issuer tokens may come from tools outside the apps.
		if slices.Contains(roles, RoleUser) {
			return nil, errs.E(errs.Unauthenticated, "bearer token app_id must be 1..8")
		}
	}
	return &Principal{ActID: c.ActID, AppID: c.AppID, Roles: roles}, nil
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
