package stack

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// errNoRows is what a conn's queryRow returns when the query found nothing,
// whatever the driver's own sentinel.
var errNoRows = errors.New("no rows")

// conn is the part of a database the SQL store needs. SQLite (database/sql)
// and PostgreSQL (pgx) each implement it with a small adapter; queries use
// $1-style placeholders, which both accept.
type conn interface {
	exec(ctx context.Context, q string, args ...any) (rowsAffected int64, err error)
	// queryRow scans the first row into dest, or returns errNoRows.
	queryRow(ctx context.Context, q string, args []any, dest ...any) error
	// query calls each for every row; scan reads the current row.
	query(ctx context.Context, q string, args []any, each func(scan func(dest ...any) error) error) error
}

// database is an open database as the SQL store sees it.
type database interface {
	writer() conn
	reader() conn
	// inTx runs fn in a read-write transaction, committed when fn returns nil.
	inTx(ctx context.Context, fn func(conn) error) error
	// inSnapshot runs fn in a read-only transaction that sees one snapshot.
	inSnapshot(ctx context.Context, fn func(conn) error) error
	// lockMigrations serialises concurrent migrators inside tx (no-op where
	// the database has a single writer).
	lockMigrations(ctx context.Context, tx conn) error
	close() error
}

// sqlStore implements Store with the one schema of migrate.go on any
// database.
type sqlStore struct {
	db database
}

var _ Store = (*sqlStore)(nil)

// newSQLStore migrates db and wraps it; it closes db when migration fails.
func newSQLStore(ctx context.Context, db database) (*sqlStore, error) {
	if err := migrate(ctx, db, migrations); err != nil {
		return nil, errors.Join(err, db.close())
	}
	return &sqlStore{db: db}, nil
}

// micros and fromMicros convert timestamps to the stored form: microseconds
// since the Unix epoch, UTC.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

const citizenColumns = `fiscal_code, terms_accepted_at, iban, iban_holder, iban_status`

func scanCitizen(scan func(dest ...any) error) (Citizen, error) {
	var c Citizen
	var at int64
	err := scan(&c.FiscalCode, &at, &c.IBAN, &c.IBANHolder, &c.IBANStatus)
	c.TermsAcceptedAt = fromMicros(at)
	return c, err
}

// rowScan adapts queryRow to the scan functions of scanCitizen and scanCard.
func rowScan(ctx context.Context, db conn, q string, args ...any) func(dest ...any) error {
	return func(dest ...any) error { return db.queryRow(ctx, q, args, dest...) }
}

func (s *sqlStore) EnrollCitizen(ctx context.Context, fc string, at time.Time) (Citizen, error) {
	// DO UPDATE with an unchanged value makes RETURNING give the stored row
	// both when it is new and when it was there: one statement, one commit.
	c, err := scanCitizen(rowScan(ctx, s.db.writer(),
		`INSERT INTO citizens (fiscal_code, terms_accepted_at) VALUES ($1, $2)
		 ON CONFLICT (fiscal_code) DO UPDATE SET terms_accepted_at = citizens.terms_accepted_at
		 RETURNING `+citizenColumns, fc, micros(at)))
	if err != nil {
		return Citizen{}, fmt.Errorf("enroll citizen: %w", err)
	}
	return c, nil
}

func (s *sqlStore) Citizen(ctx context.Context, fc string) (Citizen, error) {
	c, err := scanCitizen(rowScan(ctx, s.db.reader(), `SELECT `+citizenColumns+` FROM citizens WHERE fiscal_code = $1`, fc))
	if err != nil {
		return Citizen{}, fmt.Errorf("read citizen: %w", notFound(err))
	}
	return c, nil
}

func (s *sqlStore) SetIBAN(ctx context.Context, fc, iban, holder, status string) (Citizen, error) {
	c, err := scanCitizen(rowScan(ctx, s.db.writer(),
		`UPDATE citizens SET iban = $2, iban_holder = $3, iban_status = $4 WHERE fiscal_code = $1 RETURNING `+citizenColumns,
		fc, iban, holder, status))
	if err != nil {
		return Citizen{}, fmt.Errorf("set IBAN: %w", notFound(err))
	}
	return c, nil
}

const cardColumns = `fiscal_code, hpan, last4, circuit, expiry, idempotency_key, created_at`

func scanCard(scan func(dest ...any) error, extra ...any) (Card, error) {
	var c Card
	var at int64
	dest := append([]any{&c.FiscalCode, &c.HPAN, &c.Last4, &c.Circuit, &c.Expiry, &c.IdempotencyKey, &at}, extra...)
	err := scan(dest...)
	c.CreatedAt = fromMicros(at)
	return c, err
}

func (s *sqlStore) cardWhere(ctx context.Context, db conn, where string, args ...any) (Card, error) {
	c, err := scanCard(rowScan(ctx, db, `SELECT `+cardColumns+` FROM cards WHERE `+where, args...))
	if err != nil {
		return Card{}, notFound(err)
	}
	return c, nil
}

func (s *sqlStore) CardByIdempotencyKey(ctx context.Context, fc, key string) (Card, error) {
	// The idempotency_key <> '' term lets the planner use the partial index.
	c, err := s.cardWhere(ctx, s.db.reader(), `fiscal_code = $1 AND idempotency_key = $2 AND idempotency_key <> ''`, fc, key)
	if errors.Is(err, ErrNotFound) {
		// A key first used on a card that was in the wallet already.
		c, err = s.cardWhere(ctx, s.db.reader(),
			`fiscal_code = $1 AND hpan = (SELECT hpan FROM idempotency_keys WHERE fiscal_code = $1 AND idempotency_key = $2)`, fc, key)
		c.IdempotencyKey = key
	}
	if err != nil {
		return Card{}, fmt.Errorf("read card by idempotency key: %w", err)
	}
	return c, nil
}

func (s *sqlStore) AddCard(ctx context.Context, c Card) (Card, bool, error) {
	c.CreatedAt = fromMicros(micros(c.CreatedAt)) // as it will read back
	if c.IdempotencyKey != "" {
		// A key recorded on a card that was in the wallet already names
		// that card: no other is added under it.
		other, err := s.cardWhere(ctx, s.db.writer(),
			`fiscal_code = $1 AND hpan = (SELECT hpan FROM idempotency_keys WHERE fiscal_code = $1 AND idempotency_key = $2)`, c.FiscalCode, c.IdempotencyKey)
		switch {
		case err == nil:
			other.IdempotencyKey = c.IdempotencyKey
			return other, false, nil
		case !errors.Is(err, ErrNotFound):
			return Card{}, false, fmt.Errorf("add card: %w", err)
		}
	}
	n, err := s.db.writer().exec(ctx,
		`INSERT INTO cards (`+cardColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		c.FiscalCode, c.HPAN, c.Last4, c.Circuit, c.Expiry, c.IdempotencyKey, micros(c.CreatedAt))
	if err != nil {
		return Card{}, false, fmt.Errorf("add card: %w", err)
	}
	if n == 1 {
		return c, true, nil
	}
	// A conflict: the key was used already, or the card is in the wallet.
	// Read from the writer: the row that won is committed there.
	if c.IdempotencyKey != "" {
		stored, err := s.cardWhere(ctx, s.db.writer(), `fiscal_code = $1 AND idempotency_key = $2 AND idempotency_key <> ''`, c.FiscalCode, c.IdempotencyKey)
		if err == nil {
			return stored, false, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Card{}, false, fmt.Errorf("add card: %w", err)
		}
	}
	stored, err := s.cardWhere(ctx, s.db.writer(), `fiscal_code = $1 AND hpan = $2`, c.FiscalCode, c.HPAN)
	if err != nil {
		return Card{}, false, fmt.Errorf("add card: %w", err)
	}
	if c.IdempotencyKey != "" {
		// The card was in the wallet already: record that the key names it,
		// so the key cannot add another card later. A concurrent request may
		// have taken the key for another card first: then that one answers.
		if _, err := s.db.writer().exec(ctx,
			`INSERT INTO idempotency_keys (fiscal_code, idempotency_key, hpan) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			c.FiscalCode, c.IdempotencyKey, c.HPAN); err != nil {
			return Card{}, false, fmt.Errorf("add card: %w", err)
		}
		var hpan string
		if err := s.db.writer().queryRow(ctx, `SELECT hpan FROM idempotency_keys WHERE fiscal_code = $1 AND idempotency_key = $2`,
			[]any{c.FiscalCode, c.IdempotencyKey}, &hpan); err != nil {
			return Card{}, false, fmt.Errorf("add card: %w", err)
		}
		if hpan != c.HPAN {
			other, err := s.cardWhere(ctx, s.db.writer(), `fiscal_code = $1 AND hpan = $2`, c.FiscalCode, hpan)
			if err != nil {
				return Card{}, false, fmt.Errorf("add card: %w", err)
			}
			other.IdempotencyKey = c.IdempotencyKey
			return other, false, nil
		}
	}
	return stored, false, nil
}

func (s *sqlStore) Wallet(ctx context.Context, fc string) ([]WalletCard, error) {
	var cards []WalletCard
	err := s.db.reader().query(ctx,
		`SELECT c.fiscal_code, c.hpan, c.last4, c.circuit, c.expiry, c.idempotency_key, c.created_at, COALESCE(a.activated_at, 0)
		 FROM cards c LEFT JOIN activations a ON a.hpan = c.hpan AND a.fiscal_code = c.fiscal_code
		 WHERE c.fiscal_code = $1 ORDER BY c.created_at, c.hpan`,
		[]any{fc}, func(scan func(...any) error) error {
			var activated int64
			c, err := scanCard(scan, &activated)
			cards = append(cards, WalletCard{Card: c, ActivatedAt: fromMicros(activated)})
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("list wallet: %w", err)
	}
	return cards, nil
}

func (s *sqlStore) Activate(ctx context.Context, fc, hpan string, at time.Time) (Activation, error) {
	r := s.db.reader()
	if err := r.queryRow(ctx, `SELECT 1 FROM citizens WHERE fiscal_code = $1`, []any{fc}, new(int64)); err != nil {
		if errors.Is(err, errNoRows) {
			return Activation{}, ErrTermsNotAccepted
		}
		return Activation{}, fmt.Errorf("activate card: %w", err)
	}
	if err := r.queryRow(ctx, `SELECT 1 FROM cards WHERE fiscal_code = $1 AND hpan = $2`, []any{fc, hpan}, new(int64)); err != nil {
		if errors.Is(err, errNoRows) {
			return Activation{}, ErrCardNotInWallet
		}
		return Activation{}, fmt.Errorf("activate card: %w", err)
	}
	// The primary key on hpan decides races between citizens: one insert
	// wins, and everyone reads the winner back.
	n, err := s.db.writer().exec(ctx,
		`INSERT INTO activations (hpan, fiscal_code, activated_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		hpan, fc, micros(at))
	if err != nil {
		return Activation{}, fmt.Errorf("activate card: %w", err)
	}
	if n == 1 {
		return Activation{FiscalCode: fc, HPAN: hpan, ActivatedAt: fromMicros(micros(at))}, nil
	}
	a := Activation{HPAN: hpan}
	var ts int64
	if err := s.db.writer().queryRow(ctx, `SELECT fiscal_code, activated_at FROM activations WHERE hpan = $1`, []any{hpan}, &a.FiscalCode, &ts); err != nil {
		return Activation{}, fmt.Errorf("activate card: %w", err)
	}
	a.ActivatedAt = fromMicros(ts)
	if a.FiscalCode != fc {
		return Activation{}, ErrEnrolledElsewhere
	}
	return a, nil
}

func (s *sqlStore) TokenSecret(ctx context.Context, candidate []byte) ([]byte, error) {
	w := s.db.writer()
	if _, err := w.exec(ctx, `INSERT INTO settings (name, value) VALUES ('token_secret', $1) ON CONFLICT DO NOTHING`, hex.EncodeToString(candidate)); err != nil {
		return nil, fmt.Errorf("store token secret: %w", err)
	}
	var v string
	if err := w.queryRow(ctx, `SELECT value FROM settings WHERE name = 'token_secret'`, nil, &v); err != nil {
		return nil, fmt.Errorf("read token secret: %w", err)
	}
	key, err := hex.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("read token secret: %w", err)
	}
	return key, nil
}

func (s *sqlStore) Audit(ctx context.Context, v AuditVisitor) error {
	err := s.db.inSnapshot(ctx, func(db conn) error {
		err := db.query(ctx, `SELECT `+citizenColumns+` FROM citizens ORDER BY fiscal_code`, nil, func(scan func(...any) error) error {
			c, err := scanCitizen(scan)
			if err != nil || v.Citizen == nil {
				return err
			}
			return v.Citizen(c)
		})
		if err != nil {
			return err
		}
		err = db.query(ctx, `SELECT `+cardColumns+` FROM cards ORDER BY created_at, fiscal_code, hpan`, nil, func(scan func(...any) error) error {
			c, err := scanCard(scan)
			if err != nil || v.Card == nil {
				return err
			}
			return v.Card(c)
		})
		if err != nil {
			return err
		}
		return db.query(ctx, `SELECT fiscal_code, hpan, activated_at FROM activations ORDER BY activated_at, hpan`, nil, func(scan func(...any) error) error {
			var a Activation
			var ts int64
			if err := scan(&a.FiscalCode, &a.HPAN, &ts); err != nil || v.Activation == nil {
				return err
			}
			a.ActivatedAt = fromMicros(ts)
			return v.Activation(a)
		})
	})
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func (s *sqlStore) Close() error { return s.db.close() }

// notFound turns errNoRows into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, errNoRows) {
		return ErrNotFound
	}
	return err
}
