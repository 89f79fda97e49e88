// Package token signs and verifies red-packet tokens: compact JWS (EdDSA over Ed25519) whose
// payload is the reference design's RedPacketToken. A client keeps its token and can hand it
// back, so a reward the server lost can be restored from the token alone.
package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/springwallet/wallet/services/errs"
)

// Token statuses, as the reference design numbers them.
const (
	StatusCreated    = 1
	StatusProcessing = 2
	StatusSuccess    = 8
)

// Payload is the signed content; field names are fixed by the contract.
type Payload struct {
	AppID      int64  `json:"AppID"`
	ActID      int64  `json:"ActID"`
	ActivityID string `json:"ActivityID"`
	SceneID    string `json:"SceneID"`
	Amount     int64  `json:"Amount"`
	OutTradeNo string `json:"OutTradeNo"`
	OpenTime   int64  `json:"OpenTime"`
	RainID     int64  `json:"RainID"`
	Status     int64  `json:"Status"`
}

// The token carries no registered claims: it never expires, because a client may need to
// redeem it long after issuance.
func (Payload) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (Payload) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (Payload) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (Payload) GetIssuer() (string, error)                   { return "", nil }
func (Payload) GetSubject() (string, error)                  { return "", nil }
func (Payload) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// Signer signs and verifies tokens with one Ed25519 key.
type Signer struct {
	priv   ed25519.PrivateKey
	pub    ed25519.PublicKey
	kid    string
	parser *jwt.Parser
}

// NewSigner returns a Signer for a 32-byte seed.
func NewSigner(seed []byte) (*Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("token key: want %d bytes, got %d", ed25519.SeedSize, len(seed))
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	return &Signer{
		priv: priv, pub: pub,
		kid:    base64.RawURLEncoding.EncodeToString(sum[:8]),
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"EdDSA"})),
	}, nil
}

// LoadSigner builds the Signer from WALLET_TOKEN_KEY (standard base64 of the seed) or, when
// that is empty, from a seed kept in keyFile, generating it on first use.
func LoadSigner(envKey, keyFile string) (*Signer, error) {
	if envKey != "" {
		seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(envKey))
		if err != nil {
			return nil, fmt.Errorf("WALLET_TOKEN_KEY: not standard base64: %w", err)
		}
		return NewSigner(seed)
	}
	if b, err := os.ReadFile(keyFile); err == nil {
		seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("token key file %s: %w", keyFile, err)
		}
		return NewSigner(seed)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("token key file: %w", err)
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("generate token key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return nil, fmt.Errorf("token key folder: %w", err)
	}
	// O_EXCL: when two processes start at once, one key wins and the other reads it.
	f, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadSigner("", keyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("write token key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(seed) + "\n"); err != nil {
		return nil, fmt.Errorf("write token key: %w", err)
	}
	return NewSigner(seed)
}

// Sign returns the compact JWS of p.
func (s *Signer) Sign(p Payload) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, p)
	t.Header["kid"] = s.kid
	out, err := t.SignedString(s.priv)
	if err != nil {
		return "", fmt.Errorf("sign red-packet token: %w", err)
	}
	return out, nil
}

// Verify checks a token's signature and returns its payload; a bad token is BAD_USER_INPUT.
func (s *Signer) Verify(tok string) (Payload, error) {
	var p Payload
	_, err := s.parser.ParseWithClaims(tok, &p, func(*jwt.Token) (any, error) { return s.pub, nil })
	if err != nil {
		return Payload{}, errs.Input("token", "the red-packet token is not valid")
	}
	return p, nil
}

// JWK is one public key in JWKS form (RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS returns the key set that verifies this Signer's tokens.
func (s *Signer) JWKS() map[string][]JWK {
	return map[string][]JWK{"keys": {{
		Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(s.pub),
		Kid: s.kid, Alg: "EdDSA", Use: "sig",
	}}}
}

// SignClaims returns the compact JWS (EdDSA, this key's kid) of arbitrary claims: the ledger's
// signed heads use the same published key as red-packet tokens.
func (s *Signer) SignClaims(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = s.kid
	out, err := t.SignedString(s.priv)
	if err != nil {
		return "", fmt.Errorf("sign claims: %w", err)
	}
	return out, nil
}

// VerifyClaims checks a JWS made by SignClaims and returns its claims.
func (s *Signer) VerifyClaims(tok string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{"EdDSA"}))
	if _, err := p.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return s.pub, nil }); err != nil {
		return nil, fmt.Errorf("verify signature: %w", err)
	}
	return claims, nil
}
