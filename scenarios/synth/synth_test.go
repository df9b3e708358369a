package synth

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

var ref = time.Date(2020, 12, 8, 7, 0, 0, 0, time.UTC)

// luhnIndependent is the textbook form: double every second digit from the right.
func luhnIndependent(s string) bool {
	total := 0
	for i, n := 0, len(s); i < n; i++ {
		d := int(s[n-1-i] - '0')
		if i%2 == 1 {
			d = d * 2
			if d > 9 {
				d = d/10 + d%10
			}
		}
		total += d
	}
	return total%10 == 0
}

// mod97Independent rearranges the IBAN and uses big integers, as ISO 13616 says.
func mod97Independent(iban string) int64 {
	s := iban[4:] + iban[:4]
	var digits strings.Builder
	for _, c := range s {
		if c >= 'A' && c <= 'Z' {
			digits.WriteString(big.NewInt(int64(c - 'A' + 10)).String())
		} else {
			digits.WriteRune(c)
		}
	}
	n, _ := new(big.Int).SetString(digits.String(), 10)
	return new(big.Int).Mod(n, big.NewInt(97)).Int64()
}

func TestKnownValues(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		got  bool
	}{
		{"published test card passes Luhn", true, ValidPAN("4111111111111111")},
		{"changed digit fails Luhn", false, ValidPAN("4111111111111112")},
		{"letters are not a PAN", false, ValidPAN("41111111111a1111")},
		{"published example IBAN", true, ValidIBAN("IT60X0542811101000000123456") == nil},
		{"IBAN with swapped check digits", false, ValidIBAN("IT06X0542811101000000123456") == nil},
		{"IBAN with wrong CIN", false, ValidIBAN("IT60Y0542811101000000123456") == nil},
		{"short IBAN", false, ValidIBAN("IT60X05428111010000001234") == nil},
		{"published example fiscal code", true, ValidFiscalCode("RSSMRA85T10A562S") == nil},
		{"fiscal code with wrong check char", false, ValidFiscalCode("RSSMRA85T10A562T") == nil},
		{"fiscal code with bad month", false, ValidFiscalCode("RSSMRA85Z10A562S") == nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.ok {
				t.Fatalf("got %v, want %v", tt.got, tt.ok)
			}
		})
	}
	// SHA-256 of "4111111111111111" + "salt", from sha256sum.
	if got := HPAN("4111111111111111", "salt"); got != "d7b9da3a95efae62ff78f68210429fee8ef05b1f04d8709513bb24890d99ed17" {
		t.Errorf("HPAN = %s", got)
	}
	if HPAN("4111111111111111", "salt") == HPAN("4111111111111111", "other salt") {
		t.Error("two salts give the same hpan")
	}
}

func TestIdentitiesAreValidAndDeterministic(t *testing.T) {
	for i := uint64(0); i < 2000; i++ {
		id := NewIdentity(42, i, ref)
		if !luhnIndependent(id.PAN) || len(id.PAN) != 16 || !ValidPAN(id.PAN) {
			t.Fatalf("user %d: PAN %s fails Luhn", i, id.PAN)
		}
		if len(id.IBAN) != 27 || mod97Independent(id.IBAN) != 1 {
			t.Fatalf("user %d: IBAN %s fails mod-97", i, id.IBAN)
		}
		if err := ValidIBAN(id.IBAN); err != nil {
			t.Fatalf("user %d: %v", i, err)
		}
		if ABIOfIBAN(id.IBAN) != id.Bank.ABI {
			t.Fatalf("user %d: IBAN %s not at bank %s", i, id.IBAN, id.Bank.ABI)
		}
		if err := ValidFiscalCode(id.FiscalCode); err != nil {
			t.Fatalf("user %d: %s: %v", i, id.FiscalCode, err)
		}
		if expired, err := ExpiredAt(id.Expiry, ref); err != nil || expired {
			t.Fatalf("user %d: expiry %s expired=%v err=%v", i, id.Expiry, expired, err)
		}
		if again := NewIdentity(42, i, ref); again != id {
			t.Fatalf("user %d: identity not deterministic", i)
		}
	}
	if NewIdentity(42, 1, ref) == NewIdentity(43, 1, ref) {
		t.Fatal("different seeds gave the same identity")
	}
}

func TestExpiredAt(t *testing.T) {
	tests := []struct {
		expiry  string
		expired bool
		bad     bool
	}{
		{"12/20", false, false}, // valid through the end of December 2020
		{"11/20", true, false},
		{"01/25", false, false},
		{"13/25", false, true},
		{"1/25", false, true},
		{"ab/cd", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.expiry, func(t *testing.T) {
			got, err := ExpiredAt(tt.expiry, ref)
			if (err != nil) != tt.bad || got != tt.expired {
				t.Fatalf("ExpiredAt(%q) = %v, %v", tt.expiry, got, err)
			}
		})
	}
}

func TestPickBankFollowsWeights(t *testing.T) {
	r := Rand(1, 1)
	counts := map[string]int{}
	const n = 100000
	for i := 0; i < n; i++ {
		counts[PickBank(r).ABI]++
	}
	total := 0.0
	for _, b := range Banks {
		total += b.Weight
	}
	for _, b := range Banks[:5] {
		want := b.Weight / total
		got := float64(counts[b.ABI]) / n
		if got < want*0.9 || got > want*1.1 {
			t.Errorf("%s drawn %.3f, want about %.3f", b.Name, got, want)
		}
	}
	for _, b := range Banks {
		if len(b.ABI) != 5 {
			t.Errorf("%s: ABI %q is not 5 digits", b.Name, b.ABI)
		}
	}
}

func TestUUIDShape(t *testing.T) {
	u := UUID(Rand(7, 7))
	if len(u) != 36 || u[14] != '4' || strings.IndexByte("89ab", u[19]) < 0 {
		t.Fatalf("UUID %s is not version 4", u)
	}
}

func FuzzValidators(f *testing.F) {
	f.Add("IT60X0542811101000000123456")
	f.Add("RSSMRA85T10A562S")
	f.Add("12/25")
	f.Fuzz(func(t *testing.T, s string) {
		_ = ValidIBAN(s)
		_ = ValidFiscalCode(s)
		_ = ValidPAN(s)
		_, _ = ExpiredAt(s, ref)
	})
}

func BenchmarkNewIdentity(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		NewIdentity(1, uint64(i), ref)
	}
}
