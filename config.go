package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/graph/gqlhttp"
	"github.com/springwallet/wallet/services/auth"
	"github.com/springwallet/wallet/services/withdraw"
)

// config is the process's configuration, read from the environment (see the README).
type config struct {
	Port        string
	DatabaseURL string
	RedisURL    string
	JWTSecret   string
	TokenKey    string
	DataDir     string
	// Seed creates demo data on an empty database.
	Seed bool
	// Withdraw bounds withdrawals (WALLET_WITHDRAW_MIN, _MAX, _DAILY, in fen).
	Withdraw withdraw.Limits
	// RateLimitOff turns request rate limits off (WALLET_RATE_LIMIT=off).
	RateLimitOff bool
	// PayoutLatency and PayoutFailureRate tune the built-in simulated payout provider.
	PayoutLatency     time.Duration
	PayoutFailureRate float64
	// MaxBodyBytes bounds a GraphQL request body (WALLET_MAX_BODY_BYTES; 0 in a config built
	// by hand means gqlhttp.DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// PlaygroundOff keeps the GraphiQL playgrounds off whatever the switch says
	// (WALLET_PLAYGROUND=off, for production).
	PlaygroundOff bool
	// MetricsViewerOnly makes /metrics answer only bearer tokens with role viewer (or above)
	// (WALLET_METRICS=viewer); its issued amounts per activity are business data.
	MetricsViewerOnly bool
	// TokenLife bounds bearer tokens' lifetimes (WALLET_TOKEN_MAX_TTL, and
	// WALLET_SERVICE_TOKEN_MAX_TTL for service tokens: roles only issuer or viewer).
	TokenLife auth.Lifetimes
	// Now is the one clock every part of the service reads (not from the environment: tests
	// set it to move time instead of sleeping; nil is time.Now).
	Now func() time.Time
}

// configFromEnv reads the configuration from the process environment (see configFrom).
func configFromEnv() (config, error) {
	return configFrom(os.Getenv)
}

// configFrom reads the configuration through getenv. An unset or empty variable takes its
// default; a set but invalid one is an error naming it, because running on a default the
// operator did not choose (a typo in a limit becoming 10 fen, say) is worse than not running.
// Every bad variable is reported in one joined error, so one start shows all there is to fix.
func configFrom(getenv func(string) string) (config, error) {
	c := config{
		Port:          "8080",
		DatabaseURL:   getenv("DATABASE_URL"),
		RedisURL:      getenv("REDIS_URL"),
		JWTSecret:     getenv("WALLET_JWT_SECRET"),
		TokenKey:      getenv("WALLET_TOKEN_KEY"),
		DataDir:       "data",
		Seed:          true,
		Withdraw:      withdraw.DefaultLimits(),
		PayoutLatency: 500 * time.Millisecond,
		TokenLife:     auth.DefaultLifetimes(),
		MaxBodyBytes:  gqlhttp.DefaultMaxBodyBytes,
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(envPort(getenv, "PORT", &c.Port))
	add(checkDatabaseURL(c.DatabaseURL))
	add(checkRedisURL(c.RedisURL))
	add(checkTokenKey(c.TokenKey))

	rateLimit := true
	add(envSwitch(getenv, "WALLET_RATE_LIMIT", &rateLimit))
	c.RateLimitOff = !rateLimit
	add(envSwitch(getenv, "WALLET_DEMO_DATA", &c.Seed))
	playground := true
	add(envSwitch(getenv, "WALLET_PLAYGROUND", &playground))
	c.PlaygroundOff = !playground
	switch v := getenv("WALLET_METRICS"); v {
	case "", "public":
	case "viewer":
		c.MetricsViewerOnly = true
	default:
		add(fmt.Errorf("WALLET_METRICS=%q: want public or viewer", v))
	}

	fenErrs := len(errs)
	add(envFen(getenv, "WALLET_WITHDRAW_MIN", &c.Withdraw.Min))
	add(envFen(getenv, "WALLET_WITHDRAW_MAX", &c.Withdraw.Max))
	add(envFen(getenv, "WALLET_WITHDRAW_DAILY", &c.Withdraw.Daily))
	// The order only means something once all three limits are numbers.
	if len(errs) == fenErrs {
		add(checkLimitOrder(getenv, c.Withdraw))
	}

	add(envDuration(getenv, "WALLET_PAYOUT_LATENCY", &c.PayoutLatency))
	add(envRate(getenv, "WALLET_PAYOUT_FAILURE_RATE", &c.PayoutFailureRate))
	add(envBytes(getenv, "WALLET_MAX_BODY_BYTES", minBodyBytes, maxBodyBytes, &c.MaxBodyBytes))
	add(envLifetime(getenv, "WALLET_TOKEN_MAX_TTL", &c.TokenLife.Max))
	add(envLifetime(getenv, "WALLET_SERVICE_TOKEN_MAX_TTL", &c.TokenLife.Service))

	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}
	return c, nil
}

// envPort sets *dst to the port number in variable name, when it is set.
func envPort(getenv func(string) string, name string, dst *string) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	// ParseUint rather than Atoi: "+80" is no port anyone means.
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("%s=%q: not a port number (1 to 65535)", name, v)
	}
	*dst = strconv.FormatUint(n, 10)
	return nil
}

// envFen sets *dst to the positive whole number of fen in variable name, when it is set.
func envFen(getenv func(string) string, name string, dst *int64) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return fmt.Errorf("%s=%q: too many fen", name, v)
	case err != nil:
		return fmt.Errorf("%s=%q: not a whole number of fen", name, v)
	case n <= 0:
		return fmt.Errorf("%s=%q: must be at least 1 fen", name, v)
	}
	*dst = n
	return nil
}

// The range WALLET_MAX_BODY_BYTES may take: below 1 KiB a GraphiQL introspection request does
// not fit; above 64 MiB the limit no longer protects anything.
const (
	minBodyBytes = 1 << 10
	maxBodyBytes = 64 << 20
)

// envBytes sets *dst to the whole number of bytes in variable name, when it is set, refusing
// one outside [lo, hi].
func envBytes(getenv func(string) string, name string, lo, hi int64, dst *int64) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%s=%q: not a whole number of bytes", name, v)
	}
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("%s=%q: must be between %d and %d bytes", name, v, lo, hi)
	}
	*dst = n
	return nil
}

// checkLimitOrder reports withdrawal limits that contradict each other: a minimum above the
// maximum would refuse every withdrawal, a maximum above the daily limit could never be used.
func checkLimitOrder(getenv func(string) string, l withdraw.Limits) error {
	describe := func(name string, n int64) string {
		if v := getenv(name); v != "" {
			return fmt.Sprintf("%s=%q", name, v)
		}
		return fmt.Sprintf("%s (default %d)", name, n)
	}
	var errs []error
	if l.Min > l.Max {
		errs = append(errs, fmt.Errorf("%s is above %s", describe("WALLET_WITHDRAW_MIN", l.Min), describe("WALLET_WITHDRAW_MAX", l.Max)))
	}
	if l.Max > l.Daily {
		errs = append(errs, fmt.Errorf("%s is above %s", describe("WALLET_WITHDRAW_MAX", l.Max), describe("WALLET_WITHDRAW_DAILY", l.Daily)))
	}
	return errors.Join(errs...)
}

// envDuration sets *dst to the non-negative Go duration in variable name, when it is set.
func envDuration(getenv func(string) string, name string, dst *time.Duration) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%s=%q: not a Go duration such as 500ms or 2s", name, v)
	}
	if d < 0 {
		return fmt.Errorf("%s=%q: must not be negative", name, v)
	}
	*dst = d
	return nil
}

// envLifetime sets *dst to the positive Go duration in variable name, when it is set.
func envLifetime(getenv func(string) string, name string, dst *time.Duration) error {
	if v := getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return fmt.Errorf("%s=%q: not a positive Go duration such as 24h", name, v)
		}
	}
	return envDuration(getenv, name, dst)
}

// envRate sets *dst to the share between 0 and 1 in variable name, when it is set.
func envRate(getenv func(string) string, name string, dst *float64) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return fmt.Errorf("%s=%q: not a number", name, v)
	}
	// ParseFloat accepts "NaN", which fails every comparison, so it is tested for by name.
	if math.IsNaN(f) || f < 0 || f > 1 {
		return fmt.Errorf("%s=%q: must be between 0 and 1", name, v)
	}
	*dst = f
	return nil
}

// envSwitch sets *dst from the on/off switch in variable name, when it is set. Only "on" and
// "off" are accepted: "false" or "0" would otherwise mean on, the opposite of their intent.
func envSwitch(getenv func(string) string, name string, dst *bool) error {
	switch v := getenv(name); v {
	case "":
	case "on":
		*dst = true
	case "off":
		*dst = false
	default:
		return fmt.Errorf("%s=%q: want on or off", name, v)
	}
	return nil
}

// checkDatabaseURL accepts what store.Open does: postgres:// or postgresql:// URLs, and
// sqlite:PATH, sqlite://PATH or file:PATH with a non-empty path before any "?query".
func checkDatabaseURL(raw string) error {
	const name = "DATABASE_URL"
	if raw == "" {
		return nil
	}
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return fmt.Errorf("%s=%q: not a URL: %w", name, redactURL(raw), urlReason(err))
		}
	case strings.HasPrefix(raw, "sqlite:"), strings.HasPrefix(raw, "file:"):
		path := raw
		for _, prefix := range []string{"sqlite://", "sqlite:", "file:"} {
			if strings.HasPrefix(path, prefix) {
				path = strings.TrimPrefix(path, prefix)
				break
			}
		}
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path == "" {
			return fmt.Errorf("%s=%q: empty SQLite path", name, raw)
		}
	default:
		return fmt.Errorf("%s=%q: unsupported scheme (want sqlite://, file: or postgres://)", name, redactURL(raw))
	}
	return nil
}

// checkRedisURL accepts what openRedis does: one redis:// (or rediss://, unix://) URL, or
// several comma-separated cluster addresses, each such a URL or host:port.
func checkRedisURL(raw string) error {
	const name = "REDIS_URL"
	if raw == "" {
		return nil
	}
	if !strings.Contains(raw, ",") {
		if _, err := redis.ParseURL(raw); err != nil {
			if isHostPort(raw) {
				return fmt.Errorf("%s=%q: one address must be a redis:// URL (host:port only in a comma-separated cluster list)", name, redactURL(raw))
			}
			return fmt.Errorf("%s=%q: %w", name, redactURL(raw), urlReason(err))
		}
		return nil
	}
	for i, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		if _, err := redis.ParseURL(part); err == nil || isHostPort(part) {
			continue
		}
		return fmt.Errorf("%s=%q: address %d, %q, is neither a redis:// URL nor host:port", name, redactURL(raw), i+1, redactURL(part))
	}
	return nil
}

// isHostPort reports whether s is host:port with a port number, as a Redis Cluster address.
func isHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n > 0
}

// checkTokenKey accepts what token.LoadSigner does: standard base64, surrounding space
// ignored, of a 32-byte Ed25519 seed. The value is a secret, so errors never repeat it.
func checkTokenKey(raw string) error {
	const name = "WALLET_TOKEN_KEY"
	if raw == "" {
		return nil
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("%s (value hidden): not standard base64: %w", name, err)
	}
	if len(seed) != ed25519.SeedSize {
		return fmt.Errorf("%s (value hidden): decodes to %d bytes, want %d", name, len(seed), ed25519.SeedSize)
	}
	return nil
}

// urlReason drops the *url.Error wrapper, whose message repeats the whole URL and with it any
// password, keeping only the reason.
func urlReason(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// redactURL hides the password in a database or Redis URL before it is quoted in an error.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
		return raw
	}
	// Unparseable: hide everything between the scheme and the last "@", which may hold one.
	if i, j := strings.Index(raw, "://"), strings.LastIndex(raw, "@"); i >= 0 && j > i+3 {
		return raw[:i+3] + "xxxxx" + raw[j:]
	}
	return raw
}
