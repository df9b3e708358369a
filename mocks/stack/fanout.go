package stack

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
)

// Fan-out outcomes the app sees, one message per processor.
const (
	outcomeOK      = "OK"
	outcomeKO      = "KO"
	outcomeTimeout = "TIMEOUT"
)

// processorMessage tells the app how one processor's part of a search went.
type processorMessage struct {
	Processor string `json:"processor"`
	Outcome   string `json:"outcome"`
}

// part is one processor's share of a fan-out: its value, or why it failed.
type part[T any] struct {
	processor string
	value     T
	err       error // nil on success; an *upstreamError for a failed call
}

func (p part[T]) outcome() string {
	var ue *upstreamError
	switch {
	case p.err == nil:
		return outcomeOK
	case errors.As(p.err, &ue) && ue.kind == failTimeout:
		return outcomeTimeout
	default:
		return outcomeKO
	}
}

// fanOut calls fn for each of names. Sequential (the naive profile) calls
// them one after another and stops at the first failure, as the 2020 stack
// waited on every processor in turn and had no use for a partial answer;
// otherwise all calls run at once and every part comes back.
func fanOut[T any](ctx context.Context, sequential bool, names []string, fn func(ctx context.Context, processor string) (T, error)) []part[T] {
	parts := make([]part[T], len(names))
	if sequential {
		for i, n := range names {
			v, err := fn(ctx, n)
			parts[i] = part[T]{processor: n, value: v, err: err}
			if err != nil {
				return parts[:i+1]
			}
		}
		return parts
	}
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			v, err := fn(ctx, n)
			parts[i] = part[T]{processor: n, value: v, err: err}
		})
	}
	wg.Wait()
	return parts
}

// fanOutFailure is the error answer for a fan-out the app cannot use: in the
// naive profile any failed part, in the hardened one only all parts failing.
// It returns nil when the parts make an answer. X-Upstream names the
// processors that failed, comma-separated in call order.
func fanOutFailure[T any](naive bool, parts []part[T], code, message string) *apiError {
	var failed []string
	retry := false
	for _, p := range parts {
		if p.err != nil {
			failed = append(failed, p.processor)
			var ue *upstreamError
			retry = retry || errors.As(p.err, &ue) && ue.kind == failUnavailable
		}
	}
	if len(failed) == 0 || (!naive && len(failed) < len(parts)) {
		return nil
	}
	e := &apiError{status: http.StatusBadGateway, code: code, message: message, upstream: strings.Join(failed, ",")}
	if retry {
		e.retryAfter = retryAfterShed
	}
	return e
}

// messages lists the outcome of every processor of the search, in call
// order, including those left out of parts (KO).
func messages[T any](names []string, parts []part[T]) []processorMessage {
	out := make([]processorMessage, 0, len(names))
	for _, n := range names {
		m := processorMessage{Processor: n, Outcome: outcomeKO}
		for _, p := range parts {
			if p.processor == n {
				m.Outcome = p.outcome()
			}
		}
		out = append(out, m)
	}
	return out
}
