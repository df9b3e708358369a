package stack

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// SQLite runs in WAL mode with synchronous=FULL on the writer: every commit
// fsyncs the write-ahead log before the stack acknowledges the writes in it.
// NORMAL would survive kill -9 as well (a committed transaction is in the OS
// page cache once written), but not a power cut or kernel crash, which FULL
// does; in WAL mode the price of FULL is one fsync of the log per commit,
// not of the database file. Group commit (batchWriter) makes that price
// per batch rather than per request: concurrent writes share a transaction
// and its fsync, and none is acknowledged before the commit returns.
//
// One writer connection serialises writes in the process instead of letting
// them fight over SQLite's lock with SQLITE_BUSY; readers run in parallel on
// their own connections and see every acknowledged write.
const (
	sqliteWriterParams = "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)"
	sqliteReaderParams = "?_pragma=busy_timeout(10000)&_pragma=query_only(1)"
)

// openSQLite opens (creating if needed) the SQLite database at path with one
// writer and readers reader connections, and migrates it.
func openSQLite(ctx context.Context, path string, readers int) (Store, error) {
	// Created owner-only before SQLite opens it: the database holds the
	// token secret and every citizen's wallet. SQLite gives its -wal and
	// -shm files the database's own permissions.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	f.Close()
	if err := ownerOnly(path); err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	w, err := sql.Open("sqlite", path+sqliteWriterParams)
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	batch, err := newBatchWriter(ctx, w) // connects, switching the file to WAL
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open SQLite %s: %w", path, err), w.Close())
	}
	r, err := sql.Open("sqlite", path+sqliteReaderParams)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open SQLite %s: %w", path, err), batch.close(), w.Close())
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxLifetime(0)
	db := &sqliteDB{w: w, r: newStdConn(r), batch: batch}
	s, err := newSQLStore(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	return s, nil
}

// ownerOnly tightens an existing database, and the journal files it left,
// to the owner alone: a file made by an older stack, or by hand, may be
// readable by anyone (OpenFile's mode applies only to a file it creates).
// A file the stack cannot tighten is refused.
func ownerOnly(path string) error {
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return err
		case fi.Mode().Perm()&0o077 == 0:
			continue
		}
		if err := os.Chmod(name, 0o600); err != nil {
			return fmt.Errorf("make %s readable by its owner only: %w", filepath.Base(name), err)
		}
	}
	return nil
}

// sqliteDB is an SQLite database: one writer connection, owned by the group
// committer, and a pool of readers.
type sqliteDB struct {
	w     *sql.DB // the writer pool of one connection, held by batch
	r     *stdConn
	batch *batchWriter
}

func (d *sqliteDB) writer() conn { return batchConn{d.batch} }
func (d *sqliteDB) reader() conn { return d.r }

// inTx runs fn as one write of a group commit: under its own savepoint, so
// it commits whole or not at all.
func (d *sqliteDB) inTx(ctx context.Context, fn func(conn) error) error {
	return d.batch.do(ctx, func(_ context.Context, c conn) error { return fn(c) })
}

func (d *sqliteDB) inSnapshot(ctx context.Context, fn func(conn) error) error {
	// A deferred transaction on a WAL reader sees one snapshot throughout.
	return d.r.inTx(ctx, &sql.TxOptions{ReadOnly: true}, fn)
}

// lockMigrations is a no-op: the writer's BEGIN IMMEDIATE already
// serialises migrators, across processes too.
func (d *sqliteDB) lockMigrations(context.Context, conn) error { return nil }

func (d *sqliteDB) close() error {
	return errors.Join(d.batch.close(), d.r.close(), d.w.Close())
}

// stdConn adapts a database/sql pool to conn, preparing each query once.
type stdConn struct {
	db    *sql.DB
	stmts stmtCache
}

func newStdConn(db *sql.DB) *stdConn {
	return &stdConn{db: db}
}

func (c *stdConn) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	return c.stmts.get(ctx, c.db, q)
}

func (c *stdConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return 0, err
	}
	return execResult(st.ExecContext(ctx, args...))
}

func (c *stdConn) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return err
	}
	return rowResult(st.QueryRowContext(ctx, args...).Scan(dest...))
}

func (c *stdConn) query(ctx context.Context, q string, args []any, each func(scan func(...any) error) error) error {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	return eachRow(rows, each)
}

func (c *stdConn) inTx(ctx context.Context, opts *sql.TxOptions, fn func(conn) error) error {
	tx, err := c.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(stdTx{tx}); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

func (c *stdConn) close() error {
	return errors.Join(c.stmts.close(), c.db.Close())
}

// stdTx adapts a database/sql transaction to conn; its statements are
// rare (audit snapshots) and not cached.
type stdTx struct{ tx *sql.Tx }

func (t stdTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return execResult(t.tx.ExecContext(ctx, q, args...))
}

func (t stdTx) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	return rowResult(t.tx.QueryRowContext(ctx, q, args...).Scan(dest...))
}

func (t stdTx) query(ctx context.Context, q string, args []any, each func(scan func(...any) error) error) error {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	return eachRow(rows, each)
}

func execResult(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func rowResult(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errNoRows
	}
	return err
}

func eachRow(rows *sql.Rows, each func(scan func(...any) error) error) error {
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return errors.Join(err, rows.Close())
		}
	}
	return errors.Join(rows.Err(), rows.Close())
}
