package stack

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgreSQL is reached through pgx's own pool rather than database/sql:
// it caches prepared statements per connection, and every commit is durable
// on return with PostgreSQL's default synchronous_commit=on. Concurrent
// commits are grouped by the server itself, so writes need no batching here.

// openPostgres connects to dsn with at most conns connections and migrates.
func openPostgres(ctx context.Context, dsn string, conns int) (Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	cfg.MaxConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil { // fail fast on a wrong DSN
		pool.Close()
		cc := cfg.ConnConfig
		return nil, fmt.Errorf("open PostgreSQL %s@%s/%s: %w", cc.User, cc.Host, cc.Database, err)
	}
	s, err := newSQLStore(ctx, pgDB{pool})
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	return s, nil
}

// pgDB is a PostgreSQL database: one pool serves reads and writes.
type pgDB struct{ pool *pgxpool.Pool }

func (d pgDB) writer() conn { return pgQuerier{d.pool} }
func (d pgDB) reader() conn { return pgQuerier{d.pool} }

func (d pgDB) inTx(ctx context.Context, fn func(conn) error) error {
	return d.tx(ctx, pgx.TxOptions{}, fn)
}

func (d pgDB) inSnapshot(ctx context.Context, fn func(conn) error) error {
	return d.tx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (d pgDB) tx(ctx context.Context, opts pgx.TxOptions, fn func(conn) error) error {
	tx, err := d.pool.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(pgQuerier{tx}); err != nil {
		return errors.Join(err, tx.Rollback(ctx))
	}
	return tx.Commit(ctx)
}

// lockMigrations takes a transaction-scoped advisory lock, so stacks started
// together on one database migrate one after another.
func (d pgDB) lockMigrations(ctx context.Context, tx conn) error {
	_, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock(7342001)`)
	return err
}

func (d pgDB) close() error {
	d.pool.Close()
	return nil
}

// pgQuerier adapts a pgx pool or transaction to conn.
type pgQuerier struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (q pgQuerier) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.q.Exec(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q pgQuerier) queryRow(ctx context.Context, sql string, args []any, dest ...any) error {
	err := q.q.QueryRow(ctx, sql, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoRows
	}
	return err
}

func (q pgQuerier) query(ctx context.Context, sql string, args []any, each func(scan func(...any) error) error) error {
	rows, err := q.q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}
