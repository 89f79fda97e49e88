package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envMap is a getenv over a fixed set of variables, so tests need not touch the process's.
func envMap(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// configVariables are every variable configFrom reads; the re-executed server clears them all.
var configVariables = []string{
	"PORT", "DATABASE_URL", "REDIS_URL", "WALLET_JWT_SECRET", "WALLET_TOKEN_KEY",
	"WALLET_RATE_LIMIT", "WALLET_DEMO_DATA", "WALLET_WITHDRAW_MIN", "WALLET_WITHDRAW_MAX",
	"WALLET_WITHDRAW_DAILY", "WALLET_PAYOUT_LATENCY", "WALLET_PAYOUT_FAILURE_RATE",
	"WALLET_TOKEN_MAX_TTL", "WALLET_SERVICE_TOKEN_MAX_TTL", "WALLET_PLAYGROUND", "WALLET_METRICS",
	"WALLET_MAX_BODY_BYTES",
}

// TestConfigFromEnv checks each kind of variable three ways: a bad value is an error naming
// the variable and quoting the value, a good value is used, and unset gives the default.
func TestConfigFromEnv(t *testing.T) {
	key32 := base64.StdEncoding.EncodeToString(make([]byte, 32))
	cases := []struct {
		kind, name string
		bad        []string
		// secret: the error must name the variable but never repeat the value.
		secret bool
		good   map[string]any
		def    any
		get    func(config) any
	}{
		{
			kind: "int fen", name: "WALLET_WITHDRAW_MIN",
			bad:  []string{"abc", "0", "-5", "1.5", "10 ", "99999999999999999999"},
			good: map[string]any{"100": int64(100), "1": int64(1)},
			def:  int64(10),
			get:  func(c config) any { return c.Withdraw.Min },
		},
		{
			// A maximum above the default daily limit (1000000) names both variables.
			kind: "limits order", name: "WALLET_WITHDRAW_MAX",
			bad:  []string{"1000001", "2000000"},
			good: map[string]any{"1000000": int64(1_000_000), "10": int64(10)},
			def:  int64(500_000),
			get:  func(c config) any { return c.Withdraw.Max },
		},
		{
			kind: "duration", name: "WALLET_PAYOUT_LATENCY",
			bad:  []string{"soon", "500", "-1s"},
			good: map[string]any{"2s": 2 * time.Second, "0": time.Duration(0), "150ms": 150 * time.Millisecond},
			def:  500 * time.Millisecond,
			get:  func(c config) any { return c.PayoutLatency },
		},
		{
			kind: "lifetime", name: "WALLET_TOKEN_MAX_TTL",
			bad:  []string{"forever", "0", "-1h", "24"},
			good: map[string]any{"1h": time.Hour, "30m": 30 * time.Minute},
			def:  24 * time.Hour,
			get:  func(c config) any { return c.TokenLife.Max },
		},
		{
			kind: "lifetime", name: "WALLET_SERVICE_TOKEN_MAX_TTL",
			bad:  []string{"never", "0s"},
			good: map[string]any{"720h": 720 * time.Hour},
			def:  24 * time.Hour,
			get:  func(c config) any { return c.TokenLife.Service },
		},
		{
			kind: "rate", name: "WALLET_PAYOUT_FAILURE_RATE",
			bad:  []string{"2", "-0.1", "NaN", "Inf", "lots", "10%"},
			good: map[string]any{"0.25": 0.25, "1": 1.0, "0": 0.0},
			def:  0.0,
			get:  func(c config) any { return c.PayoutFailureRate },
		},
		{
			kind: "bytes", name: "WALLET_MAX_BODY_BYTES",
			bad:  []string{"256KiB", "1.5", "-1", "0", "1023", "67108865", "99999999999999999999", " 4096"},
			good: map[string]any{"1024": int64(1024), "1048576": int64(1 << 20), "67108864": int64(64 << 20)},
			def:  int64(256 << 10),
			get:  func(c config) any { return c.MaxBodyBytes },
		},
		{
			kind: "on/off", name: "WALLET_RATE_LIMIT",
			bad:  []string{"maybe", "false", "0", "OFF", " off"},
			good: map[string]any{"off": true, "on": false},
			def:  false,
			get:  func(c config) any { return c.RateLimitOff },
		},
		{
			kind: "on/off", name: "WALLET_DEMO_DATA",
			bad:  []string{"perhaps", "no", "1"},
			good: map[string]any{"off": false, "on": true},
			def:  true,
			get:  func(c config) any { return c.Seed },
		},
		{
			kind: "on/off", name: "WALLET_PLAYGROUND",
			bad:  []string{"hidden", "no"},
			good: map[string]any{"off": true, "on": false},
			def:  false,
			get:  func(c config) any { return c.PlaygroundOff },
		},
		{
			kind: "metrics access", name: "WALLET_METRICS",
			bad:  []string{"private", "admin", "Viewer"},
			good: map[string]any{"viewer": true, "public": false},
			def:  false,
			get:  func(c config) any { return c.MetricsViewerOnly },
		},
		{
			kind: "port", name: "PORT",
			bad:  []string{"http", "0", "65536", "-1", "+80", ":8080", "8080 "},
			good: map[string]any{"9090": "9090", "1": "1", "65535": "65535"},
			def:  "8080",
			get:  func(c config) any { return c.Port },
		},
		{
			kind: "database URL", name: "DATABASE_URL",
			bad: []string{"mysql://db/wallet", "data/wallet.db", "sqlite://", "file:?mode=memory", "postgres://db:port/wallet"},
			good: map[string]any{
				"sqlite://data/other.db":                     "sqlite://data/other.db",
				"sqlite:///var/lib/wallet.db":                "sqlite:///var/lib/wallet.db",
				"file:wallet.db?_busy_timeout=1":             "file:wallet.db?_busy_timeout=1",
				"postgres://wallet@db:5432/wallet":           "postgres://wallet@db:5432/wallet",
				"postgresql://db/wallet?sslmode=disable":     "postgresql://db/wallet?sslmode=disable",
				"postgres://wallet:pw@db.internal:5432/prod": "postgres://wallet:pw@db.internal:5432/prod",
			},
			def: "",
			get: func(c config) any { return c.DatabaseURL },
		},
		{
			kind: "redis URL", name: "REDIS_URL",
			bad: []string{"127.0.0.1:6379", "http://cache:6379", "redis://cache:6379/x", "redis://a:7000,b", "a:7000,,b:7000", "a:7000,b:port"},
			good: map[string]any{
				"redis://127.0.0.1:6379/3":         "redis://127.0.0.1:6379/3",
				"rediss://:pw@cache:6380":          "rediss://:pw@cache:6380",
				"10.0.0.1:7000,10.0.0.2:7000":      "10.0.0.1:7000,10.0.0.2:7000",
				"redis://a:7000, redis://b:7000":   "redis://a:7000, redis://b:7000",
				"redis://a:7000,[::1]:7001,c:7002": "redis://a:7000,[::1]:7001,c:7002",
			},
			def: "",
			get: func(c config) any { return c.RedisURL },
		},
		{
			kind: "token key", name: "WALLET_TOKEN_KEY", secret: true,
			bad:  []string{"not base64!", base64.StdEncoding.EncodeToString(make([]byte, 16)), base64.RawURLEncoding.EncodeToString(make([]byte, 32))},
			good: map[string]any{key32: key32, key32 + "\n": key32 + "\n"},
			def:  "",
			get:  func(c config) any { return c.TokenKey },
		},
	}
	for _, tc := range cases {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			for _, v := range tc.bad {
				_, err := configFrom(envMap(map[string]string{tc.name: v}))
				if err == nil {
					t.Errorf("%s=%q: no error", tc.name, v)
					continue
				}
				msg := err.Error()
				if want := tc.name + "=" + strconv.Quote(v); !tc.secret && !strings.Contains(msg, want) {
					t.Errorf("%s=%q: error %q does not contain %s", tc.name, v, msg, want)
				}
				if tc.secret && (!strings.Contains(msg, tc.name) || strings.Contains(msg, v)) {
					t.Errorf("%s=%q: error %q must name the variable and hide the value", tc.name, v, msg)
				}
			}
			for v, want := range tc.good {
				c, err := configFrom(envMap(map[string]string{tc.name: v}))
				if err != nil {
					t.Errorf("%s=%q: %v", tc.name, v, err)
				} else if got := tc.get(c); got != want {
					t.Errorf("%s=%q: got %v, want %v", tc.name, v, got, want)
				}
			}
			c, err := configFrom(envMap(nil))
			if err != nil {
				t.Fatalf("unset: %v", err)
			}
			if got := tc.get(c); got != tc.def {
				t.Errorf("unset %s: got %v, want the default %v", tc.name, got, tc.def)
			}
		})
	}
}

// TestConfigDefaults checks that nothing set, or everything set empty, gives exactly the
// defaults the README lists.
func TestConfigDefaults(t *testing.T) {
	empty := map[string]string{}
	for _, k := range configVariables {
		empty[k] = ""
	}
	for name, vars := range map[string]map[string]string{"unset": nil, "empty": empty} {
		c, err := configFrom(envMap(vars))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w := c.Withdraw
		if c.Port != "8080" || c.DatabaseURL != "" || c.RedisURL != "" || c.TokenKey != "" || c.DataDir != "data" ||
			!c.Seed || c.RateLimitOff || c.PayoutLatency != 500*time.Millisecond || c.PayoutFailureRate != 0 ||
			w.Min != 10 || w.Max != 500_000 || w.Daily != 1_000_000 || w.Day == nil || c.MaxBodyBytes != 256<<10 {
			t.Errorf("%s: config = %+v", name, c)
		}
	}
}

// TestConfigLimitsOrder checks the order of the withdrawal limits among set values too, and
// that a limit which is not a number is not also reported as out of order.
func TestConfigLimitsOrder(t *testing.T) {
	_, err := configFrom(envMap(map[string]string{"WALLET_WITHDRAW_MIN": "300", "WALLET_WITHDRAW_MAX": "200", "WALLET_WITHDRAW_DAILY": "100"}))
	for _, want := range []string{`WALLET_WITHDRAW_MIN="300" is above WALLET_WITHDRAW_MAX="200"`, `WALLET_WITHDRAW_MAX="200" is above WALLET_WITHDRAW_DAILY="100"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %s", err, want)
		}
	}
	_, err = configFrom(envMap(map[string]string{"WALLET_WITHDRAW_MIN": "600000"}))
	if want := `WALLET_WITHDRAW_MIN="600000" is above WALLET_WITHDRAW_MAX (default 500000)`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	_, err = configFrom(envMap(map[string]string{"WALLET_WITHDRAW_MIN": "abc", "WALLET_WITHDRAW_MAX": "5"}))
	if want := `WALLET_WITHDRAW_MIN="abc": not a whole number of fen`; err == nil || err.Error() != want {
		t.Errorf("error %v, want only %s", err, want)
	}
}

// TestConfigReportsEveryBadVariable checks that one start reports all bad variables, not just
// the first.
func TestConfigReportsEveryBadVariable(t *testing.T) {
	bad := map[string]string{
		"WALLET_WITHDRAW_MIN":        "abc",
		"WALLET_PAYOUT_LATENCY":      "soon",
		"WALLET_PAYOUT_FAILURE_RATE": "2",
		"WALLET_RATE_LIMIT":          "maybe",
		"WALLET_DEMO_DATA":           "perhaps",
		"PORT":                       "http",
		"DATABASE_URL":               "mysql://db",
		"REDIS_URL":                  "http://cache",
		"WALLET_MAX_BODY_BYTES":      "lots",
	}
	_, err := configFrom(envMap(bad))
	if err == nil {
		t.Fatal("no error")
	}
	for k, v := range bad {
		if want := k + "=" + strconv.Quote(v); !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %s:\n%v", want, err)
		}
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != len(bad) {
		t.Errorf("%d errors, want %d:\n%v", n, len(bad), err)
	}
}

// TestConfigHidesSecrets checks that passwords in URLs and the token key never reach the
// error, which main logs.
func TestConfigHidesSecrets(t *testing.T) {
	_, err := configFrom(envMap(map[string]string{
		"DATABASE_URL":     "postgres://wallet:hunter2@db:port/wallet",
		"REDIS_URL":        "redis://:hunter3@cache:6379/x",
		"WALLET_TOKEN_KEY": "hunter4==",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"DATABASE_URL", "REDIS_URL", "WALLET_TOKEN_KEY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	if strings.Contains(err.Error(), "hunter") {
		t.Errorf("error shows a secret:\n%v", err)
	}
	var e interface{ Unwrap() []error }
	if !errors.As(err, &e) || len(e.Unwrap()) != 3 {
		t.Errorf("want 3 joined errors:\n%v", err)
	}
}

// TestConfigErrorStopsStart runs the real main in a child process (this test binary again)
// with WALLET_WITHDRAW_MIN=abc: it must exit with status 2, name the variable and value, and
// never get as far as opening the database or listening. A server that did start would run
// until the timeout killed it, which fails the exit-status check.
func TestConfigErrorStopsStart(t *testing.T) {
	if os.Getenv("WALLET_CONFIG_TEST_MAIN") == "1" {
		main()
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestConfigErrorStopsStart$")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "WALLET_CONFIG_TEST_MAIN=1")
	for _, k := range configVariables {
		cmd.Env = append(cmd.Env, k+"=")
	}
	cmd.Env = append(cmd.Env, "PORT="+port, "WALLET_WITHDRAW_MIN=abc")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit: %v, want status 2; output:\n%s", err, out)
	}
	for _, want := range []string{"invalid configuration", `WALLET_WITHDRAW_MIN=\"abc\": not a whole number of fen`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not contain %s:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "listening") {
		t.Errorf("server listened:\n%s", out)
	}
	// The server would have created data/ (SQLite, token key) before listening.
	if entries, _ := os.ReadDir(cmd.Dir); len(entries) != 0 {
		t.Errorf("the refused start left %v in its working directory", entries)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
		c.Close()
		t.Errorf("something listens on PORT %s", port)
	}
}
