package stack

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgreSQL is reached through pgx's own connection type. pgx's
// database/sql adapter (pgx/v5/stdlib) and its pool (pgxpool) would need
// github.com/jackc/puddle/v2, which the module does not require; a pool of a
// few dozen connections is small enough to own here. Every commit is durable
// on return with PostgreSQL's default synchronous_commit=on.

// openPostgres connects to dsn with at most conns connections and migrates.
func openPostgres(ctx context.Context, dsn string, conns int) (Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	p := &pgPool{cfg: cfg, idle: make(chan *pgx.Conn, conns), slots: make(chan struct{}, conns)}
	c, err := p.acquire(ctx) // fail fast on a wrong DSN
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL %s@%s/%s: %w", cfg.User, cfg.Host, cfg.Database, err)
	}
	p.release(c)
	s, err := newSQLStore(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	return s, nil
}

// pgPool is a fixed-size pool of pgx connections: idle holds connections
// ready for use, slots one token per open connection. Connections are dialled
// on demand and dropped when pgx has closed them after an error.
type pgPool struct {
	cfg   *pgx.ConnConfig
	idle  chan *pgx.Conn
	slots chan struct{}

	mu     sync.Mutex
	closed bool
}

func (p *pgPool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case c := <-p.idle:
		return c, nil
	default:
	}
	select {
	case c := <-p.idle:
		return c, nil
	case p.slots <- struct{}{}:
		c, err := pgx.ConnectConfig(ctx, p.cfg)
		if err != nil {
			<-p.slots
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a PostgreSQL connection: %w", ctx.Err())
	}
}

func (p *pgPool) release(c *pgx.Conn) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed || c.IsClosed() || c.PgConn().TxStatus() != 'I' {
		_ = c.Close(context.Background())
		<-p.slots
		return
	}
	p.idle <- c // never blocks: idle holds at most one per slot
}

// with runs fn on a pooled connection.
func (p *pgPool) with(ctx context.Context, fn func(*pgx.Conn) error) error {
	c, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.release(c)
	return fn(c)
}

func (p *pgPool) writer() conn { return pgPoolConn{p} }
func (p *pgPool) reader() conn { return pgPoolConn{p} }

func (p *pgPool) inTx(ctx context.Context, fn func(conn) error) error {
	return p.tx(ctx, pgx.TxOptions{}, fn)
}

func (p *pgPool) inSnapshot(ctx context.Context, fn func(conn) error) error {
	return p.tx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (p *pgPool) tx(ctx context.Context, opts pgx.TxOptions, fn func(conn) error) error {
	return p.with(ctx, func(c *pgx.Conn) error {
		tx, err := c.BeginTx(ctx, opts)
		if err != nil {
			return err
		}
		if err := fn(pgQuerier{tx}); err != nil {
			return errors.Join(err, tx.Rollback(ctx))
		}
		return tx.Commit(ctx)
	})
}

// lockMigrations takes a transaction-scoped advisory lock, so stacks started
// together on one database migrate one after another.
func (p *pgPool) lockMigrations(ctx context.Context, tx conn) error {
	_, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock(7342001)`)
	return err
}

func (p *pgPool) close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	var errs []error
	for {
		select {
		case c := <-p.idle:
			errs = append(errs, c.Close(context.Background()))
			<-p.slots
		default:
			return errors.Join(errs...)
		}
	}
}

// pgPoolConn runs each statement on a connection of the pool.
type pgPoolConn struct{ p *pgPool }

func (c pgPoolConn) exec(ctx context.Context, q string, args ...any) (n int64, err error) {
	err = c.p.with(ctx, func(pc *pgx.Conn) error {
		n, err = pgQuerier{pc}.exec(ctx, q, args...)
		return err
	})
	return n, err
}

func (c pgPoolConn) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	return c.p.with(ctx, func(pc *pgx.Conn) error {
		return pgQuerier{pc}.queryRow(ctx, q, args, dest...)
	})
}

func (c pgPoolConn) query(ctx context.Context, q string, args []any, each func(scan func(...any) error) error) error {
	return c.p.with(ctx, func(pc *pgx.Conn) error {
		return pgQuerier{pc}.query(ctx, q, args, each)
	})
}

// pgQuerier adapts a pgx connection or transaction to conn.
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
