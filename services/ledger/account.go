package ledger

import (
	"context"
	"fmt"
	"strings"

	"entgo.io/ent/dialect"

	"github.com/springwallet/wallet/ent"
	entaccount "github.com/springwallet/wallet/ent/account"
)

// RecordAccount creates the account row of actID unless it exists.
func RecordAccount(ctx context.Context, tx *ent.Tx, actID int64) error {
	if err := tx.Account.Create().SetID(actID).OnConflict().DoNothing().Exec(ctx); err != nil && !IsNoRows(err) {
		return fmt.Errorf("record account: %w", err)
	}
	return nil
}

// LockAccount serializes the money-moving transactions of one account on PostgreSQL (SQLite
// already has a single writer), so limits that read several rows, like the daily withdrawal
// limit, hold under concurrency.
func LockAccount(ctx context.Context, tx *ent.Tx, dialectName string, actID int64) error {
	if err := RecordAccount(ctx, tx, actID); err != nil {
		return err
	}
	if dialectName != dialect.Postgres {
		return nil
	}
	if _, err := tx.Account.Query().Where(entaccount.ID(actID)).ForUpdate().Only(ctx); err != nil {
		return fmt.Errorf("lock account: %w", err)
	}
	return nil
}

// IsNoRows reports the error an upsert that did nothing answers on some drivers.
func IsNoRows(err error) bool { return err != nil && strings.Contains(err.Error(), "no rows") }
