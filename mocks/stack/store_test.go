package stack

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

func openTestStore(t *testing.T, dsn string) Store {
	t.Helper()
	s, err := OpenStore(context.Background(), dsn, 0)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStoreJourney(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openTestStore(t, dsn)
		a, b := identity(1), identity(2)
		t0 := launchDay

		if _, err := s.Citizen(ctx, a.FiscalCode); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Citizen before enrolling: err %v, want ErrNotFound", err)
		}
		if _, err := s.SetIBAN(ctx, a.FiscalCode, a.IBAN, "X", ibanOK); !errors.Is(err, ErrNotFound) {
			t.Fatalf("SetIBAN before enrolling: err %v, want ErrNotFound", err)
		}
		c, err := s.EnrollCitizen(ctx, a.FiscalCode, t0)
		if err != nil || !c.TermsAcceptedAt.Equal(t0) {
			t.Fatalf("EnrollCitizen = %+v, %v", c, err)
		}
		c, err = s.EnrollCitizen(ctx, a.FiscalCode, t0.Add(time.Hour))
		if err != nil || !c.TermsAcceptedAt.Equal(t0) {
			t.Fatalf("EnrollCitizen again = %+v, %v; want the first acceptance kept", c, err)
		}
		c, err = s.SetIBAN(ctx, a.FiscalCode, a.IBAN, "MARIO ROSSI", ibanUnknownPSP)
		if err != nil || c.IBAN != a.IBAN || c.IBANStatus != ibanUnknownPSP || c.IBANHolder != "MARIO ROSSI" {
			t.Fatalf("SetIBAN = %+v, %v", c, err)
		}

		card := Card{FiscalCode: a.FiscalCode, HPAN: testHPAN(a), Last4: "1111", Circuit: "VISA", Expiry: "12/30",
			IdempotencyKey: "k1", CreatedAt: t0.Add(time.Minute)}
		got, created, err := s.AddCard(ctx, card)
		if err != nil || !created || got != card {
			t.Fatalf("AddCard = %+v, %v, %v", got, created, err)
		}
		if got, created, err = s.AddCard(ctx, card); err != nil || created || got != card {
			t.Fatalf("AddCard again = %+v, %v, %v; want the stored card, not created", got, created, err)
		}
		other := card
		other.HPAN = testHPAN(b)
		if got, created, err = s.AddCard(ctx, other); err != nil || created || got.HPAN != testHPAN(a) {
			t.Fatalf("AddCard with a used key = %+v, %v, %v; want the card of the first use", got, created, err)
		}
		if got, err = s.CardByIdempotencyKey(ctx, a.FiscalCode, "k1"); err != nil || got != card {
			t.Fatalf("CardByIdempotencyKey = %+v, %v", got, err)
		}
		if _, err = s.CardByIdempotencyKey(ctx, a.FiscalCode, "k2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("CardByIdempotencyKey(unknown) err = %v, want ErrNotFound", err)
		}
		noKey := Card{FiscalCode: a.FiscalCode, HPAN: testHPAN(b), Last4: "2222", Circuit: "MASTERCARD", Expiry: "01/29", CreatedAt: t0.Add(2 * time.Minute)}
		if _, created, err = s.AddCard(ctx, noKey); err != nil || !created {
			t.Fatalf("AddCard without key: %v, %v", created, err)
		}
		noKey2 := noKey
		noKey2.HPAN = testHPAN(identity(3))
		if _, created, err = s.AddCard(ctx, noKey2); err != nil || !created {
			t.Fatalf("second AddCard without key: %v, %v (empty keys must not collide)", created, err)
		}

		// Activation rules.
		if _, err := s.Activate(ctx, b.FiscalCode, testHPAN(a), t0); !errors.Is(err, ErrTermsNotAccepted) {
			t.Fatalf("Activate without terms: %v", err)
		}
		if _, err := s.Activate(ctx, a.FiscalCode, testHPAN(identity(9)), t0); !errors.Is(err, ErrCardNotInWallet) {
			t.Fatalf("Activate a card not in the wallet: %v", err)
		}
		at := t0.Add(3 * time.Minute)
		act, err := s.Activate(ctx, a.FiscalCode, testHPAN(a), at)
		if err != nil || !act.ActivatedAt.Equal(at) {
			t.Fatalf("Activate = %+v, %v", act, err)
		}
		if again, err := s.Activate(ctx, a.FiscalCode, testHPAN(a), at.Add(time.Hour)); err != nil || again != act {
			t.Fatalf("Activate again = %+v, %v; want %+v", again, err, act)
		}
		if _, err := s.EnrollCitizen(ctx, b.FiscalCode, t0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.AddCard(ctx, Card{FiscalCode: b.FiscalCode, HPAN: testHPAN(a), Last4: "1111", Circuit: "VISA", Expiry: "12/30", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Activate(ctx, b.FiscalCode, testHPAN(a), at); !errors.Is(err, ErrEnrolledElsewhere) {
			t.Fatalf("Activate a card active for another citizen: %v", err)
		}

		w, err := s.Wallet(ctx, a.FiscalCode)
		if err != nil || len(w) != 3 {
			t.Fatalf("Wallet = %+v, %v; want 3 cards", w, err)
		}
		if w[0].HPAN != testHPAN(a) || !w[0].ActivatedAt.Equal(at) || !w[1].ActivatedAt.IsZero() {
			t.Fatalf("Wallet order or activation wrong: %+v", w)
		}
		if w, err := s.Wallet(ctx, identity(7).FiscalCode); err != nil || len(w) != 0 {
			t.Fatalf("empty Wallet = %+v, %v", w, err)
		}

		var n rows
		err = s.Audit(ctx, AuditVisitor{
			Citizen:    func(Citizen) error { n.citizens++; return nil },
			Card:       func(Card) error { n.cards++; return nil },
			Activation: func(Activation) error { n.activations++; return nil },
		})
		if err != nil || n != (rows{citizens: 2, cards: 4, activations: 1}) {
			t.Fatalf("Audit counted %+v, %v", n, err)
		}
		stop := errors.New("stop")
		if err := s.Audit(ctx, AuditVisitor{Card: func(Card) error { return stop }}); !errors.Is(err, stop) {
			t.Fatalf("Audit did not pass the visitor's error on: %v", err)
		}
	})
}

// TestStoreConcurrentActivation races citizens for one card: the database
// must let exactly one of them have it, and every repeat of the winner must
// succeed.
func TestStoreConcurrentActivation(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openTestStore(t, dsn)
		hpan := testHPAN(identity(100))
		const citizens = 8
		for i := range citizens {
			fc := identity(uint64(200 + i)).FiscalCode
			if _, err := s.EnrollCitizen(ctx, fc, launchDay); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.AddCard(ctx, Card{FiscalCode: fc, HPAN: hpan, Last4: "0000", Circuit: "VISA", Expiry: "12/30", CreatedAt: launchDay}); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		results := make([]error, citizens*2)
		for i := range citizens * 2 {
			wg.Go(func() {
				_, results[i] = s.Activate(ctx, identity(uint64(200+i%citizens)).FiscalCode, hpan, launchDay)
			})
		}
		wg.Wait()
		winners := map[int]bool{}
		for i, err := range results {
			switch {
			case err == nil:
				winners[i%citizens] = true
			case !errors.Is(err, ErrEnrolledElsewhere):
				t.Errorf("activation %d: %v", i, err)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("%d citizens have the card active, want 1", len(winners))
		}
	})
}

// TestStoreReopen checks that writes survive closing and reopening the
// database, that migrations are not applied twice, and that the token
// secret stays.
func TestStoreReopen(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s, err := OpenStore(ctx, dsn, 0)
		if err != nil {
			t.Fatal(err)
		}
		fc := identity(1).FiscalCode
		if _, err := s.EnrollCitizen(ctx, fc, launchDay); err != nil {
			t.Fatal(err)
		}
		key, err := s.TokenSecret(ctx, []byte("first"))
		if err != nil || string(key) != "first" {
			t.Fatalf("TokenSecret = %q, %v", key, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openTestStore(t, dsn)
		if c, err := s.Citizen(ctx, fc); err != nil || !c.TermsAcceptedAt.Equal(launchDay) {
			t.Fatalf("after reopening, Citizen = %+v, %v", c, err)
		}
		if key, err := s.TokenSecret(ctx, []byte("second")); err != nil || string(key) != "first" {
			t.Fatalf("after reopening, TokenSecret = %q, %v; want the first one kept", key, err)
		}
	})
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openTestStore(t, dsn)
		db := s.(*sqlStore).db
		if _, err := db.writer().exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`); err != nil {
			t.Fatal(err)
		}
		if err := migrate(ctx, db, migrations); err == nil {
			t.Fatal("migrate accepted a database from a newer stack")
		}
	})
}

// The SQLite database holds the token secret and the wallets: it and its
// journal files are the owner's alone, whatever the umask.
func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	// existing leaves a database of the stack's, and journal files, readable
	// by anyone: made by an older stack, or copied by hand.
	existing := func(t *testing.T, path string) {
		s, err := OpenStore(context.Background(), path, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenSecret(context.Background(), []byte("secret")); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{path, path + "-wal", path + "-shm"} {
			if f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
				t.Fatal(err)
			} else {
				f.Close()
			}
			if err := os.Chmod(name, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tt := range []struct {
		name    string
		prepare func(t *testing.T, path string)
	}{
		{"created", func(*testing.T, string) {}},
		{"existing and readable by others", existing},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stack.db")
			tt.prepare(t, path)
			s, err := OpenStore(context.Background(), path, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got, err := s.TokenSecret(context.Background(), []byte("other")); err != nil || string(got) != pick(tt.name == "created", "other", "secret") {
				t.Fatalf("token secret %q, %v: the database must stay usable", got, err)
			}
			for _, name := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(name)
				if err != nil {
					t.Fatal(err)
				}
				if perm := fi.Mode().Perm(); perm != 0o600 {
					t.Errorf("%s has mode %v, want 0600: readable by others", filepath.Base(name), perm)
				}
			}
		})
	}
}

// An Idempotency-Key first used on a card already in the wallet is kept,
// on both databases, and names that card from then on.
func TestStoreKeyOnCardInWallet(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openTestStore(t, dsn)
		fc := identity(1).FiscalCode
		if _, err := s.EnrollCitizen(ctx, fc, launchDay); err != nil {
			t.Fatal(err)
		}
		card := func(hpan, key string) Card {
			return Card{FiscalCode: fc, HPAN: hpan, Last4: "1234", Circuit: "VISA", Expiry: "12/30", IdempotencyKey: key, CreatedAt: launchDay}
		}
		if _, created, err := s.AddCard(ctx, card("h1", "")); err != nil || !created {
			t.Fatalf("first add: %v %v", created, err)
		}
		got, created, err := s.AddCard(ctx, card("h1", "k"))
		if err != nil || created || got.HPAN != "h1" {
			t.Fatalf("the key on the card in the wallet: %+v %v %v", got, created, err)
		}
		if got, err := s.CardByIdempotencyKey(ctx, fc, "k"); err != nil || got.HPAN != "h1" || got.IdempotencyKey != "k" {
			t.Fatalf("CardByIdempotencyKey = %+v, %v; want h1 under k", got, err)
		}
		if got, created, err := s.AddCard(ctx, card("h2", "k")); err != nil || got.HPAN != "h1" || got.IdempotencyKey != "k" {
			// The handler sees another card under the key: 409.
			t.Fatalf("the key on another card: %+v %v %v; want h1 under k", got, created, err)
		}
		if _, err := s.CardByIdempotencyKey(ctx, fc, "unused"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("an unused key: %v", err)
		}
	})
}

// The durability a write's acknowledgement relies on, read back from the
// live connections: WAL with synchronous=FULL on SQLite's writer,
// synchronous_commit and fsync on for PostgreSQL.
func TestDurabilitySettingsOnTheLiveConnection(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := openTestStore(t, dsn).(*sqlStore)
		want := map[string]string{"SHOW synchronous_commit": "on", "SHOW fsync": "on"}
		if !isPostgres(dsn) {
			want = map[string]string{"PRAGMA journal_mode": "wal", "PRAGMA synchronous": "2"} // 2 is FULL
		}
		for query, value := range want {
			var got string
			if err := s.db.writer().queryRow(ctx, query, nil, &got); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			if got != value {
				t.Errorf("%s = %q on the writer, want %q", query, got, value)
			}
		}
	})
}
