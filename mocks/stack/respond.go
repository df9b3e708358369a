package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// The user-facing messages of launch day (LAUNCH-DAY.md), one per failure
// path of the journey.
const (
	// MessageCardSaveFailed is shown when adding a card fails downstream.
	MessageCardSaveFailed = "Si è verificato un errore temporaneo nel salvataggio di questa carta"
	// MessageBancomatSearchFailed is shown when the PagoBancomat search fails.
	MessageBancomatSearchFailed = "Non siamo riusciti a recuperare la tua carta PagoBancomat"
	// MessageWalletUnavailable is shown when the wallet cannot be listed.
	MessageWalletUnavailable = "Non è stato possibile caricare i tuoi metodi di pagamento"
	// MessageCobadgeFailed is shown when the co-badge search fails.
	MessageCobadgeFailed = messageCobadgeFailed
	// MessageIBANFailed is shown when the IBAN cannot be checked.
	MessageIBANFailed = messageIBANFailed
	// MessageTemporary is shown for any other temporary failure.
	MessageTemporary = messageTemporary
)

// maxBodyBytes is the largest request body the stack reads: 64 KiB.
const maxBodyBytes = 64 << 10

// apiError is an error answer: a status, an application code, the message
// the app would show, and the downstream to blame, if any.
type apiError struct {
	status     int
	code       string
	message    string
	upstream   string        // X-Upstream; "" when no downstream caused it
	retryAfter time.Duration // Retry-After when > 0, rounded up to seconds
	allow      string        // Allow, for 405
}

func (e *apiError) Error() string {
	if e.upstream != "" {
		return fmt.Sprintf("%d %s via %s: %s", e.status, e.code, e.upstream, e.message)
	}
	return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message)
}

func badRequest(code, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: message}
}

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	if e.upstream != "" {
		h.Set("X-Upstream", e.upstream)
	}
	if e.retryAfter > 0 {
		secs := int64((e.retryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	if e.allow != "" {
		h.Set("Allow", e.allow)
	}
	writeJSON(w, e.status, errorBody{Code: e.code, Message: e.message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the stack's own types are marshalled; this is a bug.
		panic(fmt.Sprintf("stack: marshal %T: %v", v, err))
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write(newline)
}

// newline ends every body. writeRaw's b may be shared between requests
// (the bank list is encoded once), so it is only ever read: appending the
// newline to it would write into its spare capacity from many handlers.
var newline = []byte{'\n'}

// decodeBody reads a JSON request body into v: Content-Type
// application/json, at most maxBodyBytes, one JSON value with only known
// fields. Every failure is a 4xx apiError.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) *apiError {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &apiError{status: http.StatusUnsupportedMediaType, code: "UNSUPPORTED_MEDIA_TYPE",
			message: "Content-Type must be application/json"}
	}
	if r.ContentLength > maxBodyBytes {
		return tooLarge()
	}
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err != nil {
			if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
				return tooLarge()
			}
		}
		return badRequest("BAD_REQUEST", "the body must hold exactly one JSON value")
	}
	return nil
}

func tooLarge() *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, code: "PAYLOAD_TOO_LARGE",
		message: fmt.Sprintf("the body is larger than %d bytes", maxBodyBytes)}
}

func decodeError(err error) *apiError {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return tooLarge()
	case errors.Is(err, io.EOF):
		return badRequest("BAD_REQUEST", "the body is empty")
	case errors.As(err, &syn):
		return badRequest("BAD_REQUEST", fmt.Sprintf("malformed JSON at byte %d", syn.Offset))
	case errors.As(err, &typ):
		return badRequest("BAD_REQUEST", fmt.Sprintf("field %q: want %s", typ.Field, typ.Type))
	default:
		// Unknown fields, truncated bodies and the like; encoding/json's
		// text names the problem without echoing values.
		return badRequest("BAD_REQUEST", err.Error())
	}
}
