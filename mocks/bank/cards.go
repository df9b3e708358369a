package bank

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// Card is a payment card as a processor's search returns it. The PAN never
// leaves the processor: HPAN is its salted SHA-256 (synth.HPAN with
// hpanSalt).
type Card struct {
	HPAN    string `json:"hpan"`
	Last4   string `json:"last4"`
	Expiry  string `json:"expiry"` // MM/YY
	ABI     string `json:"abi"`
	Product string `json:"product"`           // PAGOBANCOMAT or COBADGE
	Circuit string `json:"circuit,omitempty"` // co-badge only: VISA, MASTERCARD or MAESTRO
}

// cardEpoch dates the expiries of searched cards: the launch day, so a
// replayed search shows the cards citizens had then. Nothing checks them.
var cardEpoch = time.Date(2020, 12, 8, 0, 0, 0, 0, time.UTC)

// key hashes the parts of a lookup into the index of a synth.Rand stream.
func key(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// homeProcessor is the processor that holds a citizen's cards of a product
// at a bank: exactly one of the three, so a fan-out finds each card once.
func homeProcessor(seed int64, product, abi, fiscalCode string) string {
	r := synth.Rand(seed, key("home", product, abi, fiscalCode))
	return processorNames[r.IntN(len(processorNames))]
}

// BancomatCards returns the PagoBancomat cards the mock's processor holds
// for the citizen fiscalCode at bank abi under seed (Config.Seed): 0, 1 or
// 2 cards (10%, 70%, 20%) at one processor, none at the other two. The
// answer depends on nothing else, so a test can compute what a search
// must find. The mock answers no cards for a bank not in its banks file.
func BancomatCards(seed int64, processor, abi, fiscalCode string) []Card {
	if homeProcessor(seed, "PAGOBANCOMAT", abi, fiscalCode) != processor {
		return []Card{}
	}
	r := synth.Rand(seed, key("PAGOBANCOMAT", abi, fiscalCode))
	n := [10]int{0, 1, 1, 1, 1, 1, 1, 1, 2, 2}[r.IntN(10)]
	cards := make([]Card, n)
	for i := range cards {
		pan := synth.PAN(r, "6")
		cards[i] = Card{HPAN: synth.HPAN(pan, hpanSalt(seed)), Last4: pan[len(pan)-4:], Expiry: synth.Expiry(r, cardEpoch), ABI: abi, Product: "PAGOBANCOMAT"}
	}
	return cards
}

// CobadgeCards returns the co-badge cards (a PagoBancomat card that is also
// on an international circuit) a co-badge search at processor finds for
// fiscalCode at bank abi under seed: 0, 1 or 2 cards (50%, 40%, 10%) at one
// processor, none at the other two. As BancomatCards, it is deterministic.
func CobadgeCards(seed int64, processor, abi, fiscalCode string) []Card {
	if homeProcessor(seed, "COBADGE", abi, fiscalCode) != processor {
		return []Card{}
	}
	r := synth.Rand(seed, key("COBADGE", abi, fiscalCode))
	n := [10]int{0, 0, 0, 0, 0, 1, 1, 1, 1, 2}[r.IntN(10)]
	cards := make([]Card, n)
	for i := range cards {
		pan := synth.PAN(r, [...]string{"4", "5", "67"}[r.IntN(3)])
		cards[i] = Card{HPAN: synth.HPAN(pan, hpanSalt(seed)), Last4: pan[len(pan)-4:], Expiry: synth.Expiry(r, cardEpoch),
			ABI: abi, Product: "COBADGE", Circuit: circuitOf(pan)}
	}
	return cards
}

// hpanSalt is the salt the mock's processors hash card numbers with,
// derived from the seed as everything else the mock answers is, so that a
// test can recompute an hpan. It is not the reference stack's salt: the
// hpans of searched cards are shown to the citizen, never matched against
// the hpans the stack computes for the cards added to a wallet.
func hpanSalt(seed int64) string {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	h.Write([]byte("hpan salt\x00"))
	h.Write(b[:])
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// circuitOf names a card's circuit from its PAN: VISA for 4, MASTERCARD for
// 51-55 and 22-27, MAESTRO for anything else.
func circuitOf(pan string) string {
	switch {
	case strings.HasPrefix(pan, "4"):
		return "VISA"
	case len(pan) >= 2 && ((pan[0] == '5' && pan[1] >= '1' && pan[1] <= '5') || (pan[0] == '2' && pan[1] >= '2' && pan[1] <= '7')):
		return "MASTERCARD"
	default:
		return "MAESTRO"
	}
}

// searchID makes the id of a co-badge search. The id carries everything
// the search needs (bank, citizen, start time) and a check against forgery,
// so the mock keeps no state per search however many are started.
func searchID(seed int64, processor, abi, fiscalCode string, created time.Time) string {
	ms := strconv.FormatInt(created.UnixMilli(), 36)
	return abi + "-" + fiscalCode + "-" + ms + "-" + searchMAC(seed, processor, abi, fiscalCode, ms)
}

func searchMAC(seed int64, processor, abi, fiscalCode, ms string) string {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	for _, p := range []string{processor, abi, fiscalCode, ms} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// parseSearchID checks an id made by searchID at processor and returns its
// parts; ok is false for an id this processor did not make.
func parseSearchID(seed int64, processor, id string) (abi, fiscalCode string, created time.Time, ok bool) {
	parts := strings.Split(id, "-")
	if len(parts) != 4 || !isDigits(parts[0], 5) || !validFiscalShape(parts[1]) {
		return "", "", time.Time{}, false
	}
	ms, err := strconv.ParseInt(parts[2], 36, 64)
	if err != nil || searchMAC(seed, processor, parts[0], parts[1], parts[2]) != parts[3] {
		return "", "", time.Time{}, false
	}
	return parts[0], parts[1], time.UnixMilli(ms), true
}

// validFiscalShape accepts 16 upper-case letters and digits: the shape of a
// fiscal code, including the lettered "omocodia" variants real ones have.
func validFiscalShape(fc string) bool {
	if len(fc) != 16 {
		return false
	}
	for i := 0; i < len(fc); i++ {
		c := fc[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
