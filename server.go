// Command wallet serves the wallet GraphQL API (/query), the admin API (/admin/query), their
// playgrounds, the red-packet token keys and health and metrics endpoints, and runs the
// settlement worker. `go run .` with nothing configured starts a working server with demo data;
// `go run . token ...` prints a development bearer token.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/admin"
	"github.com/springwallet/wallet/graph"
	"github.com/springwallet/wallet/graph/gqlhttp"
	"github.com/springwallet/wallet/ratelimit"
	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/announce"
	"github.com/springwallet/wallet/services/auth"
	"github.com/springwallet/wallet/services/breaker"
	"github.com/springwallet/wallet/services/counter"
	"github.com/springwallet/wallet/services/feed"
	"github.com/springwallet/wallet/services/lifecycle"
	"github.com/springwallet/wallet/services/reconcile"
	"github.com/springwallet/wallet/services/redisconn"
	"github.com/springwallet/wallet/services/redpacket"
	"github.com/springwallet/wallet/services/seal"
	"github.com/springwallet/wallet/services/store"
	"github.com/springwallet/wallet/services/switches"
	"github.com/springwallet/wallet/services/token"
	"github.com/springwallet/wallet/services/wallet"
	"github.com/springwallet/wallet/services/withdraw"
	"github.com/springwallet/wallet/web"
)

// main prints a development token (`token ...`) or runs the server, refusing to start when
// the configuration is invalid.
func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if len(os.Args) > 1 && os.Args[1] == "token" {
		if err := tokenCommand(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "token:", err)
			os.Exit(2)
		}
		return
	}
	cfg, err := configFromEnv()
	if err != nil {
		// Refuse to start rather than run on defaults nobody chose; 2, like a usage error.
		log.Error("invalid configuration, not starting", "err", err)
		os.Exit(2)
	}
	if len(os.Args) > 1 && os.Args[1] == "verify-ledger" {
		os.Exit(verifyLedgerCommand(context.Background(), cfg, os.Args[2:], os.Stdout))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("wallet server stopped", "err", err)
		os.Exit(1)
	}
}

// verifyLedgerCommand checks one activity's hash-chained ledger against the database named
// by the environment and the latest signed seal: exit 0 when intact, 1 naming the first broken
// entry, 2 when it could not check.
func verifyLedgerCommand(ctx context.Context, cfg config, args []string, out io.Writer) int {
	fs := flag.NewFlagSet("verify-ledger", flag.ContinueOnError)
	fs.SetOutput(out)
	act := fs.String("activity", "", "the (child) activity whose ledger to verify")
	if err := fs.Parse(args); err != nil || *act == "" {
		fmt.Fprintln(out, "usage: verify-ledger --activity ID")
		return 2
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		fmt.Fprintln(out, "verify-ledger:", err)
		return 2
	}
	defer db.Close()
	signer, err := token.LoadSigner(cfg.TokenKey, filepath.Join(cfg.DataDir, "token.key"))
	if err != nil {
		fmt.Fprintln(out, "verify-ledger:", err)
		return 2
	}
	rep, err := seal.New(db, signer, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil))).Verify(ctx, *act)
	if err != nil {
		fmt.Fprintln(out, "verify-ledger:", err)
		return 2
	}
	if !rep.OK {
		fmt.Fprintf(out, "BROKEN %s: entry %d: %s\n", *act, rep.BrokenEntry, rep.Reason)
		return 1
	}
	fmt.Fprintf(out, "OK %s: %d chained entries intact\n", *act, rep.Entries)
	return 0
}

// tokenCommand prints a development bearer token signed with WALLET_JWT_SECRET (or the
// development secret).
func tokenCommand(args []string, out *os.File) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	act := fs.Int64("act", 1001, "act_id (the cross-app account id)")
	app := fs.Int("app", 1, "app_id (1..8)")
	roles := fs.String("roles", "user", "comma-separated roles: user, issuer, viewer, operator, admin")
	ttl := fs.Duration("ttl", 24*time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret := os.Getenv("WALLET_JWT_SECRET")
	if secret == "" {
		secret = auth.DevSecret
	}
	tok, err := auth.Mint(secret, *act, *app, strings.Split(*roles, ","), *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, tok)
	return err
}

// app is the wired service: everything one process runs.
type app struct {
	cfg         config
	log         *slog.Logger
	now         func() time.Time
	db          *store.DB
	rdb         redis.UniversalClient
	mini        *miniredis.Miniredis
	signer      *token.Signer
	catalog     *activity.Catalog
	switches    *switches.Board
	counter     *counter.Counter
	limits      *ratelimit.Policy
	breakers    *breaker.Registry
	wallet      *wallet.Service
	withdrawals *withdraw.Service
	redpackets  *redpacket.Service
	feed        *feed.Service
	announce    *announce.Service
	reconcile   *reconcile.Service
	seals       *seal.Service
	reg         *prometheus.Registry
	ready       atomic.Bool
	workers     *lifecycle.Group
}

// ledgerSealInterval is how often every activity whose ledger moved gets a signed seal.
const ledgerSealInterval = 5 * time.Minute

// shutdownTimeout bounds how long stopping waits for the background workers (the settlement
// batch and payouts in hand carry deadlines of their own, shorter than this).
const shutdownTimeout = 40 * time.Second

// newApp connects to the database and Redis and wires every service, in dependency order:
// this function is the wiring diagram of the service.
func newApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	a := &app{cfg: cfg, log: log, now: now, reg: prometheus.NewRegistry(), workers: lifecycle.NewGroup(log)}
	if cfg.JWTSecret == "" {
		log.Warn("WALLET_JWT_SECRET is unset: using the public development secret; never do this in production")
		a.cfg.JWTSecret = auth.DevSecret
	}
	if err := a.open(ctx); err != nil {
		a.close()
		return nil, err
	}
	if err := a.wire(ctx); err != nil {
		a.close()
		return nil, err
	}
	if cfg.Seed {
		if err := seedDemo(ctx, a.db, a.catalog, now()); err != nil {
			a.close()
			return nil, fmt.Errorf("demo data: %w", err)
		}
	}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		a.wallet.StatsCollector(), a.wallet.BacklogCollector(), a.withdrawals.InDoubtCollector(),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wallet_switch_config_version", Help: "The switchboard version this instance runs."},
			func() float64 { return float64(a.switches.Version()) }))
	return a, nil
}

// open connects to Redis and the database and loads the token key.
func (a *app) open(ctx context.Context) error {
	var err error
	if a.rdb, a.mini, err = openRedis(a.cfg.RedisURL); err != nil {
		return err
	}
	if a.mini != nil {
		a.log.Warn("REDIS_URL is unset: using an in-process Redis; its data lives only as long as this process")
	}
	if a.db, err = store.Open(ctx, a.cfg.DatabaseURL); err != nil {
		return err
	}
	a.signer, err = token.LoadSigner(a.cfg.TokenKey, filepath.Join(a.cfg.DataDir, "token.key"))
	return err
}

// wire builds the services on the open connections: the shared parts first (activities,
// switches, counters, limits, breakers), then the reward core, then the features built on it.
func (a *app) wire(ctx context.Context) error {
	log, now := a.log, a.now
	a.catalog = activity.NewCatalog(a.db, now)
	a.switches = switches.New(a.db, a.rdb, log, now)
	if err := a.switches.Load(ctx); err != nil {
		return err
	}
	a.counter = counter.New(a.rdb, log, time.Second)
	a.limits = ratelimit.DefaultPolicy(ratelimit.New(a.rdb, log))
	a.limits.Off = a.cfg.RateLimitOff
	if a.cfg.RateLimitOff {
		log.Warn("WALLET_RATE_LIMIT=off: request rate limits are off (budgets and money limits stay)")
	}
	a.breakers = breaker.NewRegistry(a.reg)
	var err error
	if a.wallet, err = wallet.New(wallet.Deps{DB: a.db, Redis: a.rdb, Catalog: a.catalog, Signer: a.signer, Switches: a.switches,
		Counter: a.counter, Scenes: a.limits, Now: now, Log: log, Config: wallet.DefaultConfig()}); err != nil {
		return err
	}
	wcfg := withdraw.DefaultConfig()
	wcfg.Limits = a.cfg.Withdraw
	if a.withdrawals, err = withdraw.New(withdraw.Deps{DB: a.db, Settler: a.wallet, Switches: a.switches, Breakers: a.breakers,
		Provider: withdraw.NewSimulatedProvider(a.db, a.cfg.PayoutLatency, a.cfg.PayoutFailureRate, now), Now: now, Log: log, Config: wcfg}); err != nil {
		return err
	}
	if a.redpackets, err = redpacket.New(redpacket.Deps{DB: a.db, Redis: a.rdb, Settler: a.wallet, Switches: a.switches, Now: now, Log: log,
		Config: redpacket.DefaultConfig()}); err != nil {
		return err
	}
	if a.feed, err = feed.New(feed.Deps{DB: a.db, Rewards: a.wallet, Switches: a.switches, Breakers: a.breakers, Log: log}); err != nil {
		return err
	}
	a.announce = announce.New(a.db, a.catalog, a.switches, log, now)
	a.seals = seal.New(a.db, a.signer, now, log)
	a.reconcile = reconcile.New(a.db, a.wallet, a.catalog, now, log, reconcile.DefaultConfig())
	return nil
}

// openRedis connects to REDIS_URL (package redisconn); none starts an in-process Redis for
// development.
func openRedis(raw string) (redis.UniversalClient, *miniredis.Miniredis, error) {
	if raw == "" {
		m, err := miniredis.Run()
		if err != nil {
			return nil, nil, fmt.Errorf("start in-process redis: %w", err)
		}
		return redis.NewClient(&redis.Options{Addr: m.Addr()}), m, nil
	}
	c, err := redisconn.Open(raw)
	return c, nil, err
}

// start runs the background workers, every one through the same lifecycle: settlement and
// its sweeper, readiness checks, switch updates, the hot counter, payouts and red-packet
// expiry.
func (a *app) start(ctx context.Context) {
	a.workers.Start(ctx, map[string]lifecycle.Worker{
		"settlement":       a.wallet.Settler(),
		"sweeper":          a.wallet.Sweeper(),
		"journal":          a.wallet.Journal(),
		"readiness":        lifecycle.Func(a.watchReadiness),
		"switches":         a.switches,
		"counter":          a.counter,
		"payouts":          a.withdrawals.Payouts(),
		"redpacket-expiry": a.redpackets.Expiry(),
		"ledger-sealer":    a.seals.Sealer(a.catalog, ledgerSealInterval),
	})
}

// watchReadiness keeps readyz current: it probes the database and Redis every second, so
// losing either shows within about 3 s and their return within about 2 s.
func (a *app) watchReadiness(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := a.db.Ping(pctx)
		if err == nil {
			err = a.rdb.Ping(pctx).Err()
		}
		cancel()
		if was := a.ready.Swap(err == nil); was != (err == nil) {
			a.log.Info("readiness changed", "ready", err == nil, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// shutdown stops the background work, letting the work in hand finish within
// shutdownTimeout.
func (a *app) shutdown() {
	if err := a.workers.Stop(shutdownTimeout); err != nil {
		a.log.Error("shutdown", "err", err)
	}
}

func (a *app) close() {
	a.shutdown()
	if a.db != nil {
		a.db.Close()
	}
	a.closeRedis()
}

func (a *app) closeRedis() {
	if a.rdb != nil {
		a.rdb.Close()
	}
	if a.mini != nil {
		a.mini.Close()
	}
}

// handler routes every endpoint of the contract.
func (a *app) handler() http.Handler {
	verifier := auth.NewVerifier(a.cfg.JWTSecret, a.cfg.TokenLife)
	metrics := gqlhttp.NewMetrics(a.reg)
	mux := http.NewServeMux()
	walletSchema := graph.NewSchema(graph.Deps{Wallet: a.wallet, Withdrawals: a.withdrawals, RedPackets: a.redpackets, Feed: a.feed,
		Catalog: a.catalog, Announcements: a.announce, Now: a.now})
	mux.Handle("/query", gqlhttp.Timeout(10*time.Second, gqlhttp.New(walletSchema,
		gqlhttp.Options{Schema: "wallet", Log: a.log, Metrics: metrics, Auth: verifier, Limits: a.limits, Redis: a.rdb, Switches: a.switches,
			MaxBodyBytes: a.cfg.MaxBodyBytes})))
	adminSchema := admin.NewSchema(admin.Deps{Catalog: a.catalog, Switches: a.switches, DB: a.db, Wallet: a.wallet, Withdrawals: a.withdrawals,
		Seals: a.seals, Announce: a.announce, Breakers: a.breakers, Reconcile: a.reconcile})
	mux.Handle("/admin/query", gqlhttp.Timeout(30*time.Second, gqlhttp.New(adminSchema,
		gqlhttp.Options{Schema: "admin", Log: a.log, Metrics: metrics, Auth: verifier, Switches: a.switches, MaxBodyBytes: a.cfg.MaxBodyBytes})))
	pg := http.NewServeMux()
	web.Mount(pg, "/playground", "Wallet GraphQL playground", "/query")
	web.Mount(pg, "/admin/playground", "Wallet admin playground", "/admin/query")
	playgrounds := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.PlaygroundOff || !a.switches.Enabled(switches.Playground) {
			http.NotFound(w, r)
			return
		}
		pg.ServeHTTP(w, r)
	})
	for _, p := range []string{"/playground", "/playground/", "/admin/playground", "/admin/playground/"} {
		mux.Handle(p, playgrounds)
	}
	mux.Handle(web.ConsolePath, http.StripPrefix(web.ConsolePath, web.Console())) // /admin redirects here (ServeMux)
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_ = json.NewEncoder(w).Encode(a.signer.JWKS())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !a.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: database or redis unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	var scrape http.Handler = promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{})
	if a.cfg.MetricsViewerOnly {
		scrape = requireViewer(verifier, scrape)
	}
	mux.Handle("GET /metrics", scrape)
	return mux
}

// requireViewer serves next only to a bearer token with role viewer (or above): Prometheus
// sends one with its authorization setting (credentials of a long-lived viewer token).
func requireViewer(v *auth.Verifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := v.Verify(auth.BearerToken(r.Header.Get("Authorization")))
		switch {
		case err != nil:
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need a bearer token with role viewer", http.StatusUnauthorized)
		case !p.Has(auth.RoleViewer):
			http.Error(w, "metrics need role viewer", http.StatusForbidden)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// serverTimeouts bound how long one connection may hold the server. Without them an idle
// keep-alive connection, or a body trickled a byte every few seconds, holds its connection
// (and the handler reading it) for ever.
type serverTimeouts struct {
	// ReadHeader and Read bound reading the request's headers, and all of it with its body.
	ReadHeader, Read time.Duration
	// Write bounds the time from the end of the headers to the end of the answer. The GraphQL
	// endpoints set their own (gqlhttp.Timeout: their handler timeout plus time to write), so
	// the admin endpoint's 30 s handler timeout is not cut short by this one.
	Write time.Duration
	// Idle is how long a keep-alive connection may wait for its next request.
	Idle time.Duration
}

// defaultServerTimeouts are longer than anything a well-behaved client needs: /query's
// handler timeout is 10 s.
var defaultServerTimeouts = serverTimeouts{ReadHeader: 10 * time.Second, Read: 15 * time.Second, Write: 20 * time.Second, Idle: 60 * time.Second}

// newHTTPServer is the HTTP server serve runs, with timeouts t.
func newHTTPServer(h http.Handler, t serverTimeouts) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read, WriteTimeout: t.Write, IdleTimeout: t.Idle}
}

// serve runs the server until ctx ends, then shuts down gracefully: it stops taking requests,
// finishes those in flight, then lets the settlement worker finish its batch.
func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	a.start(context.Background()) // the workers stop in shutdown, after the HTTP server
	ln, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := newHTTPServer(a.handler(), defaultServerTimeouts)
	base := "http://localhost:" + cfg.Port
	log.Info("wallet server listening",
		"query", base+"/query", "playground", base+"/playground", "admin_playground", base+"/admin/playground", "console", base+"/admin/",
		"mint_token", "go run . token --act 1001 --app 1 --roles user")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", err)
	}
	a.shutdown()
	log.Info("stopped")
	return nil
}
