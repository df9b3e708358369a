package stack

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// maxBatch bounds the writes one group commit carries.
const maxBatch = 256

// GroupCommitMax is the most writes one SQLite group commit carries: the
// simulator models the writer as that many writes committing at once.
const GroupCommitMax = maxBatch

var errStoreClosed = errors.New("store closed")

// writeOp is one write waiting for a group commit.
type writeOp struct {
	ctx  context.Context
	run  func(ctx context.Context, c conn) error
	done chan error // receives the outcome once the batch has committed
}

// batchWriter is SQLite's group committer. One goroutine owns the writer
// connection: it takes the writes waiting at that moment, runs each under a
// savepoint of one transaction and commits, so a burst of N writes costs
// one fsync instead of N. A write that fails is rolled back to its savepoint
// and leaves the rest of its batch intact; if the commit fails, every write
// of the batch reports the failure. No write is acknowledged before the
// commit of its batch has returned.
type batchWriter struct {
	conn  *sql.Conn // the writer connection, held for the store's life
	stmts stmtCache
	ops   chan *writeOp // unbuffered: a write the loop accepted is in a batch
	quit  chan struct{}
	done  chan struct{}
}

func newBatchWriter(ctx context.Context, db *sql.DB) (*batchWriter, error) {
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	b := &batchWriter{conn: c, ops: make(chan *writeOp),
		quit: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b, nil
}

// do runs fn in the next group commit and returns once that commit is
// durable. A write whose ctx ends before its batch runs is skipped and
// reports ctx's error; once running, it is not interrupted, since
// interrupting a statement makes SQLite roll back the whole transaction.
func (b *batchWriter) do(ctx context.Context, fn func(ctx context.Context, c conn) error) error {
	op := &writeOp{ctx: ctx, run: fn, done: make(chan error, 1)}
	select {
	case b.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.quit:
		return errStoreClosed
	}
	return <-op.done
}

func (b *batchWriter) loop() {
	defer close(b.done)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		select {
		case op := <-b.ops:
			batch = append(batch[:0], op)
		case <-b.quit:
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case op := <-b.ops:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		b.commit(batch)
		clear(batch) // drop references to finished ops
	}
}

func (b *batchWriter) commit(batch []*writeOp) {
	ctx := context.Background()
	c := batchTx{b}
	fail := func(err error) {
		for _, op := range batch {
			op.done <- err
		}
	}
	if _, err := c.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		fail(fmt.Errorf("begin batch: %w", err))
		return
	}
	errs := make([]error, len(batch))
	for i, op := range batch {
		if errs[i] = op.ctx.Err(); errs[i] == nil {
			errs[i] = b.savepoint(ctx, c, op)
		}
	}
	if _, err := c.exec(ctx, "COMMIT"); err != nil {
		_, _ = c.exec(ctx, "ROLLBACK")
		fail(fmt.Errorf("commit batch: %w", err))
		return
	}
	for i, op := range batch {
		op.done <- errs[i]
	}
}

// savepoint runs op so that, if it fails, nothing it did stays.
func (b *batchWriter) savepoint(ctx context.Context, c batchTx, op *writeOp) error {
	if _, err := c.exec(ctx, "SAVEPOINT w"); err != nil {
		return err
	}
	err := op.run(ctx, c)
	if err != nil {
		_, rerr := c.exec(ctx, "ROLLBACK TO w")
		err = errors.Join(err, rerr)
	}
	_, rerr := c.exec(ctx, "RELEASE w")
	return errors.Join(err, rerr)
}

func (b *batchWriter) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	return b.stmts.get(ctx, b.conn, q)
}

// close stops the loop after the batch in progress and releases the
// connection.
func (b *batchWriter) close() error {
	select {
	case <-b.quit:
	default:
		close(b.quit)
	}
	<-b.done
	return errors.Join(b.stmts.close(), b.conn.Close())
}

// batchTx runs statements on the writer connection inside the loop's
// transaction; only the loop's goroutine uses it.
type batchTx struct{ b *batchWriter }

func (t batchTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	st, err := t.b.stmt(ctx, q)
	if err != nil {
		return 0, err
	}
	return execResult(st.ExecContext(ctx, args...))
}

func (t batchTx) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	st, err := t.b.stmt(ctx, q)
	if err != nil {
		return err
	}
	return rowResult(st.QueryRowContext(ctx, args...).Scan(dest...))
}

func (t batchTx) query(ctx context.Context, q string, args []any, each func(scan func(...any) error) error) error {
	st, err := t.b.stmt(ctx, q)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	return eachRow(rows, each)
}

// batchConn is the writer conn of an SQLite store: every statement is a
// write of its own in the next group commit.
type batchConn struct{ b *batchWriter }

func (c batchConn) exec(ctx context.Context, q string, args ...any) (n int64, err error) {
	err = c.b.do(ctx, func(ctx context.Context, tx conn) error {
		var e error
		n, e = tx.exec(ctx, q, args...)
		return e
	})
	return n, err
}

func (c batchConn) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	return c.b.do(ctx, func(ctx context.Context, tx conn) error {
		return tx.queryRow(ctx, q, args, dest...)
	})
}

func (c batchConn) query(ctx context.Context, q string, args []any, each func(scan func(...any) error) error) error {
	return c.b.do(ctx, func(ctx context.Context, tx conn) error {
		return tx.query(ctx, q, args, each)
	})
}
