// Package testenv gives tests the real services they run against: a Redis database of their
// own (1..8, never 0 or 9..15, so parallel packages and other users don't collide) and a fresh
// SQLite database file.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/springwallet/wallet/services/store"
)

// Redis DB numbers. Tests may use only 1..8, fewer than there are test packages, so packages
// share some; Redis holds a cross-process lock on its database for the test's duration, so
// packages that share one (go test runs packages in parallel) take turns instead of flushing
// each other's data.
const (
	DBServer   = 1 // package main (HTTP end-to-end)
	DBWallet   = 2 // services/wallet
	DBActivity = 3 // services/reconcile
	DBBench    = 4 // bench
	DBFeatures = 5 // services/withdraw, services/redpacket, services/feed
	DBSwitches = 6 // services/switches
	DBCounter  = 7 // services/counter
	DBLimits   = 8 // ratelimit
)

// RedisAddr is the test Redis, WALLET_TEST_REDIS or 127.0.0.1:6379.
func RedisAddr() string {
	if a := os.Getenv("WALLET_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// Redis returns a client on database db, emptied for the test. A Redis that does not answer
// fails the test: these tests are about the real thing.
func Redis(t testing.TB, db int) *redis.Client {
	t.Helper()
	if db < 1 || db > 8 {
		t.Fatalf("tests use redis databases 1..8, not %d", db)
	}
	lockDB(t, db)
	c := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: db})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("redis at %s db %d: %v (start it, or run `make test`, which does)", RedisAddr(), db, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dbLocks are this process's holds on the Redis databases' lock files: tests of one package
// share a hold (they may run in parallel and call Redis more than once); other processes
// wait for it.
var dbLocks = struct {
	sync.Mutex
	held map[int]*dbLock
}{held: map[int]*dbLock{}}

type dbLock struct {
	f     *os.File
	users int
}

// lockDB holds database db's lock file (flock, exclusive across processes) until the test
// ends.
func lockDB(t testing.TB, db int) {
	t.Helper()
	release, err := acquireDB(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
}

// HoldRedis empties database db and holds its lock until release is called: for a package's
// TestMain whose examples (which have no *testing.T) use Redis.
func HoldRedis(db int) (url string, release func(), err error) {
	if db < 1 || db > 8 {
		return "", nil, fmt.Errorf("tests use redis databases 1..8, not %d", db)
	}
	if release, err = acquireDB(db); err != nil {
		return "", nil, err
	}
	c := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: db})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.FlushDB(ctx).Err(); err != nil {
		release()
		return "", nil, fmt.Errorf("redis at %s db %d: %w", RedisAddr(), db, err)
	}
	return RedisURL(db), release, nil
}

// acquireDB takes this process's share of database db's lock, taking the file lock when it is
// the first; release gives the share back.
func acquireDB(db int) (release func(), err error) {
	dbLocks.Lock()
	defer dbLocks.Unlock()
	l := dbLocks.held[db]
	if l == nil {
		name := filepath.Join(os.TempDir(), "wallet-test-redis-"+strings.NewReplacer(":", "_", "/", "_").Replace(RedisAddr())+"-"+itoa(db)+".lock")
		f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return nil, fmt.Errorf("redis db %d lock: %w", db, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("redis db %d lock: %w", db, err)
		}
		l = &dbLock{f: f}
		dbLocks.held[db] = l
	}
	l.users++
	return func() {
		dbLocks.Lock()
		defer dbLocks.Unlock()
		if l.users--; l.users == 0 {
			_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
			l.f.Close()
			delete(dbLocks.held, db)
		}
	}, nil
}

// RedisURL is the redis:// URL of database db.
func RedisURL(db int) string { return "redis://" + RedisAddr() + "/" + itoa(db) }

func itoa(i int) string { return string(rune('0' + i)) }

// SQLiteURL is a DATABASE_URL for a new SQLite file in the test's temp dir.
func SQLiteURL(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "wallet.db")
}

// SQLite opens (and migrates) a new SQLite database for the test.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), SQLiteURL(t))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL is the server tests create their databases on: WALLET_TEST_POSTGRES or the
// local trust-auth server.
func PostgresURL() string {
	if u := os.Getenv("WALLET_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// PostgresDatabase creates a fresh PostgreSQL database for the test, dropped afterwards, and
// returns its URL. A server that does not answer fails the test.
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("postgres", PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "wallet_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("postgres at %s: %v (start it, or run `make test`, which does)", PostgresURL(), err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("postgres", PostgresURL())
		if err == nil {
			_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			admin.Close()
		}
	})
	u, err := url.Parse(PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Postgres opens (and migrates) a fresh PostgreSQL database for the test.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	dbURL := PostgresDatabase(t)
	db, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	// Registered after the database's own cleanup, so it runs first: close, then drop.
	t.Cleanup(func() { db.Close() })
	return db
}

// Cluster starts a three-node Redis Cluster (no replicas) of the test's own on free local
// ports, waits until every slot is served, and shuts it down afterwards. It needs
// redis-server and redis-cli, which `make test` installs.
func Cluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	var addrs []string
	for i := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		dir := filepath.Join(t.TempDir(), strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--dir", dir, "--save", "", "--appendonly", "no",
			"--daemonize", "yes", "--logfile", filepath.Join(dir, "redis.log")).CombinedOutput()
		if err != nil {
			t.Fatalf("start redis cluster node: %v: %s", err, out)
		}
		addr := "127.0.0.1:" + port
		addrs = append(addrs, addr)
		t.Cleanup(func() { _ = exec.Command("redis-cli", "-p", port, "shutdown", "nosave").Run() })
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range addrs {
		for exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strings.Split(a, ":")[1], "ping").Run() != nil {
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %s did not start", a)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("create redis cluster: %v: %s", err, out)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { c.Close() })
	for {
		info, err := c.ClusterInfo(context.Background()).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("redis cluster not ready: %v %s", err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Every master must see the cluster whole before the client routes by it: the node the
	// client asked above may know before the others do (CLUSTERDOWN on the first command).
	for {
		err := c.ForEachMaster(context.Background(), func(ctx context.Context, n *redis.Client) error {
			info, err := n.ClusterInfo(ctx).Result()
			if err == nil && !strings.Contains(info, "cluster_state:ok") {
				err = errors.New("node " + n.Options().Addr + ": cluster not ok yet")
			}
			return err
		})
		if err == nil {
			return c
		}
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("redis cluster not ready on every master: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
