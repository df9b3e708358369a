package stack

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// migration is one step of the schema. Its statements are written in the
// SQL that SQLite and PostgreSQL share (TEXT, BIGINT, partial indexes,
// ON CONFLICT), so one list serves both databases.
type migration struct {
	version    int
	name       string
	statements []string
}

// migrations is the schema, oldest first. Append to it; never edit a step
// that has shipped, since databases record which versions they have.
var migrations = []migration{
	{1, "journey tables", []string{
		`CREATE TABLE citizens (
			fiscal_code       TEXT PRIMARY KEY,
			terms_accepted_at BIGINT NOT NULL,
			iban              TEXT NOT NULL DEFAULT '',
			iban_holder       TEXT NOT NULL DEFAULT '',
			iban_status       TEXT NOT NULL DEFAULT ''
		)`,
		// A card is in a wallet once; the PAN is never stored, only its
		// hash and last four digits.
		`CREATE TABLE cards (
			fiscal_code     TEXT NOT NULL,
			hpan            TEXT NOT NULL,
			last4           TEXT NOT NULL,
			circuit         TEXT NOT NULL,
			expiry          TEXT NOT NULL,
			idempotency_key TEXT NOT NULL DEFAULT '',
			created_at      BIGINT NOT NULL,
			PRIMARY KEY (fiscal_code, hpan)
		)`,
		`CREATE UNIQUE INDEX cards_idempotency ON cards (fiscal_code, idempotency_key) WHERE idempotency_key <> ''`,
		// An hpan is active for one citizen at most: the primary key is the rule.
		`CREATE TABLE activations (
			hpan         TEXT PRIMARY KEY,
			fiscal_code  TEXT NOT NULL,
			activated_at BIGINT NOT NULL
		)`,
		`CREATE TABLE settings (
			name  TEXT PRIMARY KEY,
			value TEXT NOT NULL
		)`,
	}},
	// A key first used on a card already in the wallet names that card
	// too, so reusing it for another card is refused (API.md).
	{2, "idempotency keys of cards already in the wallet", []string{
		`CREATE TABLE idempotency_keys (
			fiscal_code     TEXT NOT NULL,
			idempotency_key TEXT NOT NULL,
			hpan            TEXT NOT NULL,
			PRIMARY KEY (fiscal_code, idempotency_key)
		)`,
	}},
}

// migrate applies the migrations db lacks, each in its own transaction
// together with its row in schema_migrations, so a crash leaves every step
// either applied or not. It refuses a database whose schema is newer than
// the list.
func migrate(ctx context.Context, db database, list []migration) error {
	_, err := db.writer().exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL
	)`)
	if err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	for _, m := range list {
		err := db.inTx(ctx, func(tx conn) error {
			if err := db.lockMigrations(ctx, tx); err != nil {
				return err
			}
			var one int64
			err := tx.queryRow(ctx, `SELECT 1 FROM schema_migrations WHERE version = $1`, []any{int64(m.version)}, &one)
			if err == nil {
				return nil // applied already, perhaps by a concurrent stack
			}
			if !errors.Is(err, errNoRows) {
				return err
			}
			for _, stmt := range m.statements {
				if _, err := tx.exec(ctx, stmt); err != nil {
					return err
				}
			}
			_, err = tx.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				int64(m.version), m.name, micros(time.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: version %d (%s): %w", m.version, m.name, err)
		}
	}
	var newest int64
	if err := db.writer().queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`, nil, &newest); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if known := list[len(list)-1].version; newest > int64(known) {
		return fmt.Errorf("migrate: database schema version %d is newer than this stack's %d", newest, known)
	}
	return nil
}
