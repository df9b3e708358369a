package stack

import (
	"context"
	"errors"
	"time"
)

// Errors a Store returns for the journey's business rules; handlers map them
// to statuses. Storage failures are other errors.
var (
	// ErrNotFound is returned for a citizen or card that is not stored.
	ErrNotFound = errors.New("not found")
	// ErrTermsNotAccepted is returned when activating a card for a citizen
	// who has not enrolled and accepted the terms.
	ErrTermsNotAccepted = errors.New("terms and conditions not accepted")
	// ErrCardNotInWallet is returned when activating a card that is not in
	// the citizen's wallet.
	ErrCardNotInWallet = errors.New("card not in the citizen's wallet")
	// ErrEnrolledElsewhere is returned when activating a card that is active
	// for another citizen.
	ErrEnrolledElsewhere = errors.New("card active for another citizen")
)

// Citizen is an enrolled citizen: one who accepted the terms and
// conditions, with the IBAN refunds go to once set.
type Citizen struct {
	FiscalCode      string    `json:"fiscalCode"`
	TermsAcceptedAt time.Time `json:"termsAcceptedAt"`
	IBAN            string    `json:"iban,omitempty"`
	IBANHolder      string    `json:"ibanHolder,omitempty"`
	IBANStatus      string    `json:"ibanStatus,omitempty"` // OK, KO or UNKNOWN_PSP; "" before an IBAN is set
}

// Card is a payment card in a citizen's wallet. The PAN is never stored:
// HPAN (SHA-256 of the PAN and the stack's salt, lower-case hex) identifies the card and Last4
// shows it.
type Card struct {
	FiscalCode     string    `json:"fiscalCode"`
	HPAN           string    `json:"hpan"`
	Last4          string    `json:"last4"`
	Circuit        string    `json:"circuit"`
	Expiry         string    `json:"expiry"`                   // MM/YY
	IdempotencyKey string    `json:"idempotencyKey,omitempty"` // the Idempotency-Key of the request that added it
	CreatedAt      time.Time `json:"createdAt"`
}

// WalletCard is a card as the wallet lists it: ActivatedAt is when it was
// activated for cashback by this citizen, zero when it is not.
type WalletCard struct {
	Card
	ActivatedAt time.Time
}

// Activation records that a card takes part in cashback for a citizen. An
// hpan is active for at most one citizen.
type Activation struct {
	FiscalCode  string    `json:"fiscalCode"`
	HPAN        string    `json:"hpan"`
	ActivatedAt time.Time `json:"activatedAt"`
}

// AuditVisitor receives every stored row, table by table (citizens, cards,
// activations), from one consistent snapshot. A non-nil error from a
// function stops the walk and is returned by Audit.
type AuditVisitor struct {
	Citizen    func(Citizen) error
	Card       func(Card) error
	Activation func(Activation) error
}

// Store is the stack's persistence. Every write is durable when the method
// returns: a process killed right after an acknowledged write finds it again
// on restart. Implementations are safe for concurrent use.
type Store interface {
	// EnrollCitizen records that the citizen accepted the terms at at; when
	// the citizen is already enrolled it returns the stored citizen
	// unchanged.
	EnrollCitizen(ctx context.Context, fiscalCode string, at time.Time) (Citizen, error)
	// Citizen returns an enrolled citizen, or ErrNotFound.
	Citizen(ctx context.Context, fiscalCode string) (Citizen, error)
	// SetIBAN stores the citizen's IBAN, its holder and the bank's verdict
	// on it; ErrNotFound when the citizen is not enrolled.
	SetIBAN(ctx context.Context, fiscalCode, iban, holder, status string) (Citizen, error)
	// CardByIdempotencyKey returns the card the citizen added with key, or
	// ErrNotFound.
	CardByIdempotencyKey(ctx context.Context, fiscalCode, key string) (Card, error)
	// AddCard puts c in its citizen's wallet and returns it with created
	// true. When c's idempotency key was already used by the citizen, or the
	// wallet already holds the card, it stores nothing and returns the
	// stored card with created false; for a reused key that may be another
	// card, so callers compare HPAN.
	AddCard(ctx context.Context, c Card) (stored Card, created bool, err error)
	// Wallet lists the citizen's cards in the order they were added.
	Wallet(ctx context.Context, fiscalCode string) ([]WalletCard, error)
	// Activate makes the card hpan take part in cashback for the citizen.
	// Repeating it returns the first activation. It fails with
	// ErrTermsNotAccepted, ErrCardNotInWallet or ErrEnrolledElsewhere.
	Activate(ctx context.Context, fiscalCode, hpan string, at time.Time) (Activation, error)
	// TokenSecret returns the token key kept in the database, storing
	// candidate first if there is none yet.
	TokenSecret(ctx context.Context, candidate []byte) ([]byte, error)
	// Audit walks every stored row; see AuditVisitor.
	Audit(ctx context.Context, v AuditVisitor) error
	// Close releases the database; the caller must not use the Store after.
	Close() error
}

// OpenStore opens the database named by dsn (a postgres:// DSN or an SQLite
// file path, created when missing) and applies the schema migrations it
// lacks. conns is the number of connections as in Config.DBConns (0 for the
// default). The caller closes the Store.
func OpenStore(ctx context.Context, dsn string, conns int) (Store, error) {
	if isPostgres(dsn) {
		return openPostgres(ctx, dsn, pick(conns > 0, conns, 16))
	}
	if dsn == "" {
		return nil, errors.New("open store: empty SQLite path")
	}
	return openSQLite(ctx, dsn, pick(conns > 0, conns, 4))
}
