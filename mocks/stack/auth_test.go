package stack

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func testTokens(clock *fakeClock) tokens {
	return tokens{signer: signer{key: []byte("test key")}, now: clock.Now, ttl: time.Hour}
}

// errAnyToken in a test case accepts any verification error.
var errAnyToken = errors.New("any token error")

func TestTokens(t *testing.T) {
	clock := newFakeClock()
	tk := testTokens(clock)
	fc := identity(1).FiscalCode
	tok, exp := tk.mint(fc)
	if !exp.Equal(launchDay.Add(time.Hour)) {
		t.Fatalf("expiry %v, want %v", exp, launchDay.Add(time.Hour))
	}
	parts := strings.Split(tok, ".")

	tests := []struct {
		name  string
		token string
		err   error
	}{
		{"valid", tok, nil},
		{"empty", "", errTokenMalformed},
		{"no MAC", strings.Join(parts[:3], "."), errAnyToken},
		{"MAC not base64", strings.Join(parts[:3], ".") + ".!!", errTokenMalformed},
		{"other fiscal code", strings.Join([]string{parts[0], identity(2).FiscalCode, parts[2], parts[3]}, "."), errTokenSignature},
		{"later expiry", strings.Join([]string{parts[0], parts[1], "9999999999", parts[3]}, "."), errTokenSignature},
		{"search id MAC", (signer{key: []byte("test key")}).seal(purposeCobadge, strings.Join(parts[:3], ".")), errTokenSignature},
		{"well signed but not a token", tk.signer.seal("token", "v1.x"), errTokenMalformed},
		{"well signed, bad fiscal code", tk.signer.seal("token", "v1.RSSMRA80A01H501X.9999999999"), errTokenMalformed},
		{"well signed, other version", tk.signer.seal("token", "v2."+fc+".9999999999"), errTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tk.verify(tt.token)
			if tt.err == errAnyToken && err != nil {
				return
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("verify: err %v, want %v", err, tt.err)
			}
			if err == nil && got != fc {
				t.Fatalf("verify = %q, want %q", got, fc)
			}
		})
	}
	t.Run("expires", func(t *testing.T) {
		clock.Advance(time.Hour - time.Nanosecond)
		if _, err := tk.verify(tok); err != nil {
			t.Fatalf("just before expiry: %v", err)
		}
		clock.Advance(time.Nanosecond)
		if _, err := tk.verify(tok); !errors.Is(err, errTokenExpired) {
			t.Fatalf("at expiry: %v", err)
		}
	})
}

func TestBearer(t *testing.T) {
	tk := testTokens(newFakeClock())
	tok, _ := tk.mint(identity(1).FiscalCode)
	tests := []struct {
		header string
		err    error
	}{
		{"", errTokenMissing},
		{"Bearer", errTokenMalformed},
		{"Token " + tok, errTokenMalformed},
		{"Bearer " + tok, nil},
		{"BEARER  " + tok, nil},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		if _, err := tk.bearer(r); !errors.Is(err, tt.err) {
			t.Errorf("Authorization %q: err %v, want %v", tt.header, err, tt.err)
		}
	}
}

// FuzzVerifyToken: no input panics, and nothing but a minted token verifies.
func FuzzVerifyToken(f *testing.F) {
	clock := newFakeClock()
	tk := testTokens(clock)
	tok, _ := tk.mint(identity(1).FiscalCode)
	f.Add(tok)
	f.Add("v1.X.1.AAAA")
	f.Add("....")
	f.Fuzz(func(t *testing.T, s string) {
		fc, err := tk.verify(s)
		if err == nil && s != tok {
			t.Fatalf("verify accepted %q as %q", s, fc)
		}
	})
}
