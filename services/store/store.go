// Package store opens the wallet database (SQLite or PostgreSQL) named by DATABASE_URL and runs
// the migrations. It hands out two ent clients: one for writes and one for reads, because
// SQLite needs its writers to take the lock up front while readers must not.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/lib/pq"           // PostgreSQL driver
	_ "github.com/mattn/go-sqlite3" // SQLite driver (cgo)

	"github.com/springwallet/wallet/ent"
	"github.com/springwallet/wallet/ent/migrate"
	_ "github.com/springwallet/wallet/ent/runtime" // schema hooks (append-only ledger)
)

// DefaultURL is where the database lives when DATABASE_URL is unset.
const DefaultURL = "sqlite://data/wallet.db"

// DB is an opened database: W for transactions that write, R for reads.
type DB struct {
	W, R    *ent.Client
	Dialect string
	// readTxIsolation gives read transactions one snapshot for all their statements.
	readTxIsolation sql.IsolationLevel
	raw             []*sql.DB
	reads           dialect.Driver
}

// WrapReads returns a copy of db whose reads go through wrap(driver): tests use it to see the
// SQL a read sends (and ask the database how it would run it).
func (db *DB) WrapReads(wrap func(dialect.Driver) dialect.Driver) *DB {
	cp := *db
	cp.R = ent.NewClient(ent.Driver(wrap(db.reads)))
	return &cp
}

// Open connects to the database named by rawURL ("" means DefaultURL), creating a SQLite
// file's folders when needed, and runs the migrations.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	if rawURL == "" {
		rawURL = DefaultURL
	}
	var db *DB
	var err error
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		db, err = openPostgres(rawURL)
	case strings.HasPrefix(rawURL, "sqlite:"), strings.HasPrefix(rawURL, "file:"):
		db, err = openSQLite(rawURL)
	default:
		return nil, fmt.Errorf("DATABASE_URL: unsupported scheme in %q (want sqlite:// or postgres://)", redact(rawURL))
	}
	if err != nil {
		return nil, err
	}
	if err := db.W.Schema.Create(ctx, migrate.WithGlobalUniqueID(false)); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return db, nil
}

// sqlitePath turns sqlite://rel, sqlite:///abs and file:PATH into a file path.
func sqlitePath(rawURL string) (path, query string, err error) {
	rest := rawURL
	switch {
	case strings.HasPrefix(rest, "sqlite://"):
		rest = strings.TrimPrefix(rest, "sqlite://")
	case strings.HasPrefix(rest, "sqlite:"):
		rest = strings.TrimPrefix(rest, "sqlite:")
	case strings.HasPrefix(rest, "file:"):
		rest = strings.TrimPrefix(rest, "file:")
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query = rest[:i], rest[i+1:]
	}
	if rest == "" {
		return "", "", errors.New("DATABASE_URL: empty SQLite path")
	}
	return rest, query, nil
}

func openSQLite(rawURL string) (*DB, error) {
	path, query, err := sqlitePath(rawURL)
	if err != nil {
		return nil, err
	}
	if path != ":memory:" {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("create database folder: %w", err)
			}
		}
	}
	base := "file:" + path + "?_fk=1&_journal_mode=WAL&_busy_timeout=10000&_synchronous=NORMAL"
	if query != "" {
		base += "&" + query
	}
	// Writers begin IMMEDIATE: a deferred transaction that reads and then writes can fail at
	// once with SQLITE_BUSY when another writer committed in between, instead of waiting.
	w, err := sql.Open("sqlite3", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	r, err := sql.Open("sqlite3", base)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// One writer connection: SQLite has one write lock anyway, and queueing in Go is fairer
	// than spinning on the busy timeout.
	w.SetMaxOpenConns(1)
	r.SetMaxOpenConns(8)
	if err := w.Ping(); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	reads := entsql.OpenDB(dialect.SQLite, r)
	return &DB{
		W:               ent.NewClient(ent.Driver(entsql.OpenDB(dialect.SQLite, w))),
		R:               ent.NewClient(ent.Driver(reads)),
		Dialect:         dialect.SQLite,
		readTxIsolation: sql.LevelDefault,
		raw:             []*sql.DB{w, r},
		reads:           reads,
	}, nil
}

func openPostgres(rawURL string) (*DB, error) {
	conn, err := sql.Open("postgres", rawURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	conn.SetMaxOpenConns(32)
	conn.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.PingContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redact(rawURL), err)
	}
	drv := entsql.OpenDB(dialect.Postgres, conn)
	c := ent.NewClient(ent.Driver(drv))
	return &DB{W: c, R: c, Dialect: dialect.Postgres, readTxIsolation: sql.LevelRepeatableRead, raw: []*sql.DB{conn}, reads: drv}, nil
}

// ReadTx runs fn in a read-only transaction whose statements all see one snapshot.
func (db *DB) ReadTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := db.R.BeginTx(ctx, &sql.TxOptions{Isolation: db.readTxIsolation, ReadOnly: db.Dialect == dialect.Postgres})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// WriteTx runs fn in a transaction and commits it, retrying a few times when the database
// reports a conflict that a retry resolves (a unique race on PostgreSQL, a busy SQLite).
func (db *DB) WriteTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if err = db.writeOnce(ctx, fn); err == nil || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	return err
}

func (db *DB) writeOnce(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := db.W.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// retryable reports errors that another attempt of the same transaction can get past.
func retryable(err error) bool {
	if ent.IsConstraintError(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(msg, "could not serialize") || strings.Contains(msg, "deadlock detected")
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	for _, c := range db.raw {
		if err := c.PingContext(ctx); err != nil {
			return err
		}
	}
	// A ping can be answered from a pooled connection; a query proves the file or server works.
	_, err := db.R.Activity.Query().Limit(1).IDs(ctx)
	return err
}

// Close closes the connections.
func (db *DB) Close() error {
	var errs []error
	for _, c := range db.raw {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// redact hides a password in a database URL before it reaches a log.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
