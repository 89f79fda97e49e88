package auth

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/springwallet/wallet/services/errs"
)

const secret = "s3cret"

// sign signs arbitrary claims, as an attacker holding a leaked or self-minted payload would
// try them.
func sign(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerifyRefusesLenientClaims is issue 9's item 16 as the attack: an exp sent as a string,
// a token living until 9999, and empty or null roles (which quietly meant "user") are refused.
func TestVerifyRefusesLenientClaims(t *testing.T) {
	v := NewVerifier(secret, Lifetimes{Max: 24 * time.Hour, Service: 30 * 24 * time.Hour})
	soon := time.Now().Add(time.Hour).Unix()
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
	}{
		{"exp as a string", jwt.MapClaims{"act_id": 1, "app_id": 1, "exp": "9999999999"}},
		{"exp until 9999", jwt.MapClaims{"act_id": 1, "app_id": 1, "exp": time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC).Unix()}},
		{"user token for 48 h", jwt.MapClaims{"act_id": 1, "app_id": 1, "exp": time.Now().Add(48 * time.Hour).Unix()}},
		{"admin token for 48 h", jwt.MapClaims{"act_id": 1, "roles": []string{"admin"}, "exp": time.Now().Add(48 * time.Hour).Unix()}},
		{"issuer and user for 48 h", jwt.MapClaims{"act_id": 1, "app_id": 1, "roles": []string{"issuer", "user"}, "exp": time.Now().Add(48 * time.Hour).Unix()}},
		{"issuer for 60 days", jwt.MapClaims{"act_id": 1, "roles": []string{"issuer"}, "exp": time.Now().Add(60 * 24 * time.Hour).Unix()}},
		{"operator for 48 h", jwt.MapClaims{"act_id": 1, "roles": []string{"viewer", "operator"}, "exp": time.Now().Add(48 * time.Hour).Unix()}},
		{"roles empty", jwt.MapClaims{"act_id": 1, "app_id": 1, "roles": []string{}, "exp": soon}},
		{"roles null", jwt.MapClaims{"act_id": 1, "app_id": 1, "roles": nil, "exp": soon}},
		{"roles a string", jwt.MapClaims{"act_id": 1, "app_id": 1, "roles": "admin", "exp": soon}},
		{"a blank role", jwt.MapClaims{"act_id": 1, "app_id": 1, "roles": []string{""}, "exp": soon}},
		{"no exp", jwt.MapClaims{"act_id": 1, "app_id": 1}},
		{"expired", jwt.MapClaims{"act_id": 1, "app_id": 1, "exp": time.Now().Add(-time.Minute).Unix()}},
		{"no act_id", jwt.MapClaims{"app_id": 1, "exp": soon}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(sign(t, tc.claims))
			if errs.CodeOf(err) != errs.Unauthenticated {
				t.Fatalf("Verify = %+v, %v; want UNAUTHENTICATED", p, err)
			}
		})
	}
}

func TestVerifyAcceptsWellFormedTokens(t *testing.T) {
	v := NewVerifier(secret, Lifetimes{Max: 24 * time.Hour, Service: 30 * 24 * time.Hour})
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		roles  []string
	}{
		{"roles absent means user", jwt.MapClaims{"act_id": 7, "app_id": 2, "exp": time.Now().Add(time.Hour).Unix()}, []string{RoleUser}},
		{"a full day", jwt.MapClaims{"act_id": 7, "app_id": 2, "roles": []string{"user"}, "exp": time.Now().Add(24 * time.Hour).Unix()}, []string{RoleUser}},
		{"a configured long issuer token", jwt.MapClaims{"act_id": 7, "roles": []string{"issuer"}, "exp": time.Now().Add(29 * 24 * time.Hour).Unix()}, []string{RoleIssuer}},
		{"a configured long scraper token", jwt.MapClaims{"act_id": 7, "roles": []string{"viewer"}, "exp": time.Now().Add(29 * 24 * time.Hour).Unix()}, []string{RoleViewer}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(sign(t, tc.claims))
			if err != nil || p.ActID != 7 || len(p.Roles) != len(tc.roles) || p.Roles[0] != tc.roles[0] {
				t.Fatalf("Verify = %+v, %v", p, err)
			}
		})
	}
	// Mint's own tokens verify.
	tok, err := Mint(secret, 9, 1, nil, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("a minted 24 h token: %v", err)
	}
}
