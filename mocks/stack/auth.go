package stack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// A login token stands in for the session the national digital identity
// login would give: "v1.<fiscal code>.<expiry, Unix seconds>.<MAC>", where
// the MAC is HMAC-SHA256 over everything before it, base64url without
// padding. The fiscal code travels in clear, as in a JWT; the MAC makes it
// unforgeable.

// Token errors; all of them answer 401.
var (
	errTokenMissing   = errors.New("missing bearer token")
	errTokenMalformed = errors.New("malformed token")
	errTokenSignature = errors.New("token signature does not match")
	errTokenExpired   = errors.New("token expired")
)

const tokenVersion = "v1"

// signer makes and checks MACs for one key; purpose strings keep a MAC made
// for one use (a token) from being valid for another (a search id).
type signer struct {
	key []byte
}

func (s signer) mac(purpose, payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// hpanSalt is the salt the stack hashes card numbers with (synth.HPAN):
// derived from the key, so it is as secret as the key, survives a restart
// on the same database with it, and differs between stacks with different
// keys. It is the MAC of a fixed purpose, so publishing it reveals nothing
// of the key.
func (s signer) hpanSalt() string {
	return hex.EncodeToString(s.mac("hpan-salt", "")[:16])
}

// seal returns payload.MAC.
func (s signer) seal(purpose, payload string) string {
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(purpose, payload))
}

// open checks a sealed string and returns its payload.
func (s signer) open(purpose, sealed string) (string, error) {
	i := strings.LastIndexByte(sealed, '.')
	if i < 0 {
		return "", errTokenMalformed
	}
	got := sealed[i+1:]
	if _, err := base64.RawURLEncoding.Strict().DecodeString(got); err != nil {
		return "", errTokenMalformed
	}
	// The MAC is compared as its one canonical text, not as decoded bytes:
	// the decoder skips CR and LF, so a token with one inside would
	// otherwise verify as the token without it (FuzzBearer found it).
	want := base64.RawURLEncoding.EncodeToString(s.mac(purpose, sealed[:i]))
	if !hmac.Equal([]byte(got), []byte(want)) {
		return "", errTokenSignature
	}
	return sealed[:i], nil
}

// tokens mints and verifies login tokens.
type tokens struct {
	signer signer
	now    func() time.Time
	ttl    time.Duration
}

// mint returns a token for fiscalCode and when it expires (whole seconds).
func (t tokens) mint(fiscalCode string) (string, time.Time) {
	exp := t.now().Add(t.ttl).Truncate(time.Second)
	payload := tokenVersion + "." + fiscalCode + "." + strconv.FormatInt(exp.Unix(), 10)
	return t.signer.seal("token", payload), exp.UTC()
}

// verify returns the fiscal code a valid, unexpired token carries.
func (t tokens) verify(token string) (string, error) {
	payload, err := t.signer.open("token", token)
	if err != nil {
		return "", err
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 3 || parts[0] != tokenVersion {
		return "", errTokenMalformed
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "", errTokenMalformed
	}
	if synth.ValidFiscalCode(parts[1]) != nil {
		return "", errTokenMalformed
	}
	if !t.now().Before(time.Unix(exp, 0)) {
		return "", errTokenExpired
	}
	return parts[1], nil
}

// bearer returns the fiscal code of the request's bearer token.
func (t tokens) bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", errTokenMissing
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", fmt.Errorf("%w: want Authorization: Bearer <token>", errTokenMalformed)
	}
	return t.verify(strings.TrimSpace(token))
}
