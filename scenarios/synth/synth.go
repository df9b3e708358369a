// Package synth makes synthetic identities for the enrollment journey: fiscal
// codes, card numbers with valid Luhn digits and their salted hashes, Italian IBANs
// with valid mod-97 check digits, and ABI bank codes drawn by bank size.
//
// Everything is deterministic: the same seed and user index always give the
// same identity, so a run can be repeated and a mock can recompute what a user
// should see. The checks (Luhn, mod-97, fiscal-code shape) live here too, so
// the stack and the mocks validate with the same rules the generator follows.
//
// synth imports nothing of the project's.
package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Identity is one synthetic citizen with one payment card and one bank account.
type Identity struct {
	Index      uint64 // user index the identity was derived from
	Name       string
	Surname    string
	FiscalCode string // 16 characters with a valid check character
	Bank       Bank   // the citizen's bank, drawn by bank size
	IBAN       string // Italian IBAN at Bank, 27 characters
	PAN        string // 16-digit card number with a valid Luhn digit; its hash needs the platform's salt (HPAN)
	Expiry     string // MM/YY, in the future of the reference time
	CVV        string // 3 digits
}

// NewIdentity derives the identity of user index under seed. Expiry dates are
// placed one to five years after ref, so cards stay valid for the run.
func NewIdentity(seed int64, index uint64, ref time.Time) Identity {
	r := Rand(seed, index)
	id := Identity{Index: index}
	id.Name = givenNames[r.IntN(len(givenNames))]
	id.Surname = surnames[r.IntN(len(surnames))]
	id.FiscalCode = fiscalCode(r, id.Surname, id.Name)
	id.Bank = PickBank(r)
	id.IBAN = IBAN(r, id.Bank.ABI)
	id.PAN = PAN(r, "4")
	id.Expiry = Expiry(r, ref)
	id.CVV = fmt.Sprintf("%03d", r.IntN(1000))
	return id
}

// Rand returns a generator determined by seed and index alone: the stream of
// user index under seed.
func Rand(seed int64, index uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), index*0x9E3779B97F4A7C15+1))
}

// HPAN is the hashed PAN downstream systems identify a card by, as the
// operator computes it: SHA-256 of the digits followed by salt, in
// lower-case hex. The salt is the platform's secret, published only to
// those who must address cards (the reference stack's GET
// /api/v1/hpan-salt); without it, an hpan and the last four digits do not
// give the PAN back by trying the few billion numbers left.
func HPAN(pan, salt string) string {
	h := sha256.New()
	h.Write([]byte(pan))
	h.Write([]byte(salt))
	return hex.EncodeToString(h.Sum(nil))
}

// PAN returns a 16-digit card number starting with prefix and ending with a
// valid Luhn check digit.
func PAN(r *rand.Rand, prefix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for b.Len() < 15 {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	body := b.String()
	return body + string(rune('0'+luhnDigit(body)))
}

// luhnDigit returns the check digit that makes body+digit pass the Luhn check.
func luhnDigit(body string) int {
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return (10 - sum%10) % 10
}

// ValidPAN reports whether pan is 12 to 19 digits with a correct Luhn digit.
func ValidPAN(pan string) bool {
	if len(pan) < 12 || len(pan) > 19 {
		return false
	}
	for i := 0; i < len(pan); i++ {
		if pan[i] < '0' || pan[i] > '9' {
			return false
		}
	}
	return luhnDigit(pan[:len(pan)-1]) == int(pan[len(pan)-1]-'0')
}

// Expiry returns a card expiry MM/YY between one and five years after ref.
func Expiry(r *rand.Rand, ref time.Time) string {
	year := ref.Year() + 1 + r.IntN(5)
	return fmt.Sprintf("%02d/%02d", 1+r.IntN(12), year%100)
}

// ExpiredAt reports whether an MM/YY expiry is in the past at t (a card is
// valid through the last day of its month). A malformed expiry is an error.
func ExpiredAt(expiry string, t time.Time) (bool, error) {
	var mm, yy int
	if len(expiry) != 5 || expiry[2] != '/' {
		return false, fmt.Errorf("expiry %q is not MM/YY", expiry)
	}
	if _, err := fmt.Sscanf(expiry, "%2d/%2d", &mm, &yy); err != nil || mm < 1 || mm > 12 {
		return false, fmt.Errorf("expiry %q is not MM/YY", expiry)
	}
	end := time.Date(2000+yy, time.Month(mm)+1, 1, 0, 0, 0, 0, time.UTC)
	return !t.Before(end), nil
}

// IBAN returns an Italian IBAN (27 characters) for a random account at the
// bank abi (5 digits), with a correct national check letter (CIN) and correct
// mod-97 check digits.
func IBAN(r *rand.Rand, abi string) string {
	cab := fmt.Sprintf("%05d", r.IntN(100000))
	var acct strings.Builder
	for acct.Len() < 12 {
		acct.WriteByte(byte('0' + r.IntN(10)))
	}
	bban := abi + cab + acct.String()
	bban = string(cin(bban)) + bban
	return "IT" + fmt.Sprintf("%02d", 98-mod97(bban+"IT00")) + bban
}

// ValidIBAN checks an Italian IBAN: length 27, country IT, mod-97 check digits
// and the national check letter. It returns nil or the first problem found.
func ValidIBAN(iban string) error {
	if len(iban) != 27 {
		return fmt.Errorf("IBAN has %d characters, want 27", len(iban))
	}
	if iban[:2] != "IT" {
		return fmt.Errorf("IBAN country %q is not IT", iban[:2])
	}
	for i := 2; i < len(iban); i++ {
		c := iban[i]
		if !(c >= '0' && c <= '9') && !(c >= 'A' && c <= 'Z') {
			return fmt.Errorf("IBAN has %q at position %d", c, i+1)
		}
	}
	if mod97(iban[4:]+iban[:4]) != 1 {
		return fmt.Errorf("IBAN check digits %s do not match", iban[2:4])
	}
	if cin(iban[5:]) != iban[4] {
		return fmt.Errorf("IBAN national check letter %q does not match", iban[4])
	}
	return nil
}

// ABIOfIBAN returns the 5-digit bank code inside an Italian IBAN.
func ABIOfIBAN(iban string) string {
	if len(iban) != 27 {
		return ""
	}
	return iban[5:10]
}

// mod97 computes the ISO 7064 remainder of s with letters as 10..35.
func mod97(s string) int {
	rem := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A') + 10) % 97
		}
	}
	return rem
}

// oddValues are the values of characters in odd positions, shared by the
// IBAN national check letter and the fiscal-code check character.
var oddValues = [36]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, // 0-9
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23} // A-Z

// checkLetter is the odd/even weighting used by CIN and fiscal codes.
func checkLetter(s string) byte {
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		idx, even := 0, 0
		switch {
		case c >= '0' && c <= '9':
			idx, even = int(c-'0'), int(c-'0')
		case c >= 'A' && c <= 'Z':
			idx, even = int(c-'A')+10, int(c-'A')
		}
		if i%2 == 0 {
			sum += oddValues[idx]
		} else {
			sum += even
		}
	}
	return byte('A' + sum%26)
}

// cin is the Italian BBAN check letter over ABI, CAB and account number.
func cin(bban22 string) byte { return checkLetter(bban22) }

const monthLetters = "ABCDEHLMPRST"

// fiscalCode builds a 16-character code in the official shape: three
// consonant-led letters of surname and name, birth year, month letter, day
// (plus 40 for women), municipality code and the check character.
func fiscalCode(r *rand.Rand, surname, name string) string {
	day := 1 + r.IntN(28)
	if r.IntN(2) == 1 {
		day += 40
	}
	body := threeLetters(surname) + threeLetters(name) +
		fmt.Sprintf("%02d", 40+r.IntN(60)) + string(monthLetters[r.IntN(12)]) +
		fmt.Sprintf("%02d", day) + string(rune('A'+r.IntN(12))) + fmt.Sprintf("%03d", 1+r.IntN(999))
	return body + string(checkLetter(body))
}

// threeLetters takes consonants first, then vowels, padding with X.
func threeLetters(s string) string {
	var cons, vows []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 'A' || c > 'Z' {
			continue
		}
		if strings.IndexByte("AEIOU", c) >= 0 {
			vows = append(vows, c)
		} else {
			cons = append(cons, c)
		}
	}
	out := append(cons, vows...)
	out = append(out, 'X', 'X', 'X')
	return string(out[:3])
}

// ValidFiscalCode checks the shape of a 16-character fiscal code (letters and
// digits in their places, a real month letter, a day 1-31 or 41-71) and its
// check character. It returns nil or the first problem found.
func ValidFiscalCode(fc string) error {
	if len(fc) != 16 {
		return fmt.Errorf("fiscal code has %d characters, want 16", len(fc))
	}
	const shape = "LLLLLLDDLDDLDDDL"
	for i := 0; i < 16; i++ {
		c := fc[i]
		switch shape[i] {
		case 'L':
			if c < 'A' || c > 'Z' {
				return fmt.Errorf("fiscal code position %d: want a letter, got %q", i+1, c)
			}
		case 'D':
			if c < '0' || c > '9' {
				return fmt.Errorf("fiscal code position %d: want a digit, got %q", i+1, c)
			}
		}
	}
	if strings.IndexByte(monthLetters, fc[8]) < 0 {
		return fmt.Errorf("fiscal code month letter %q is not one of %s", fc[8], monthLetters)
	}
	day := int(fc[9]-'0')*10 + int(fc[10]-'0')
	if !(day >= 1 && day <= 31) && !(day >= 41 && day <= 71) {
		return fmt.Errorf("fiscal code day %02d is out of range", day)
	}
	if checkLetter(fc[:15]) != fc[15] {
		return fmt.Errorf("fiscal code check character %q does not match", fc[15])
	}
	return nil
}

// UUID returns a version-4 UUID drawn from r.
func UUID(r *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

var givenNames = []string{"MARIO", "GIULIA", "LUCA", "FRANCESCA", "MARCO", "CHIARA", "ANDREA", "SARA",
	"GIUSEPPE", "ELENA", "ALESSANDRO", "MARTINA", "FRANCESCO", "VALENTINA", "MATTEO", "SILVIA",
	"LORENZO", "ANNA", "DAVIDE", "LAURA", "STEFANO", "PAOLA", "ROBERTO", "ROBERTA"}

var surnames = []string{"ROSSI", "RUSSO", "FERRARI", "ESPOSITO", "BIANCHI", "ROMANO", "COLOMBO",
	"RICCI", "MARINO", "GRECO", "BRUNO", "GALLO", "CONTI", "DE LUCA", "MANCINI", "COSTA",
	"GIORDANO", "RIZZO", "LOMBARDI", "MORETTI", "BARBIERI", "FONTANA", "SANTORO", "MARIANI"}
