package client

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults of a RetryPolicy.
const (
	// DefaultRetryMaxWait is the longest wait before one retry when
	// RetryPolicy.MaxWait is zero.
	DefaultRetryMaxWait = 30 * time.Second
	// DefaultRetryBackoff is the first wait after an answer that has no
	// Retry-After (one from a proxy, say); each further one doubles, up to
	// MaxWait.
	DefaultRetryBackoff = time.Second
)

// RetryPolicy makes a Client send a call again when the server answers 429
// (ERATELIMIT) or 503 (EUNAVAILABLE), after waiting as long as the answer's
// Retry-After asks. It is off unless set with WithRetry.
//
// Only calls that are safe to send twice are retried: GET, PUT (each sets a
// value: sending it again sets the same one), and POST with an
// Idempotency-Key (SendMessage with SendParams.IdempotencyKey), which the
// server answers with the first message instead of storing a second. Any
// other POST (SendMessage without a key, CreateSchedule, CancelMessage, …),
// every DELETE (a repeat of one that was carried out answers ENOTFOUND) and
// CreateBroadcast (its body is streamed once) are sent once, and their
// 429/503 is returned to the caller as it came.
//
// A server that cannot be reached is not retried: it is EUNAVAILABLE at
// once, as without a policy.
type RetryPolicy struct {
	// MaxAttempts is how many times one call may be sent in all, the first
	// included: 3 means up to two retries. 0 or 1 means never retry.
	MaxAttempts int
	// MaxWait bounds each wait. An answer whose Retry-After asks for longer
	// is returned at once, as is one whose wait would outlast the context's
	// deadline: the caller decides, rather than a call that blocks for
	// minutes or retries before the server said it could serve. Zero means
	// DefaultRetryMaxWait.
	MaxWait time.Duration
	// SleepFunc waits d, or until ctx ends and then returns its error. Nil
	// means a timer. Can be mocked for tests.
	SleepFunc func(ctx context.Context, d time.Duration) error
}

// WithRetry turns on retries of idempotent calls answered 429 or 503, as p
// says. The request timeout (WithRequestTimeout) bounds each attempt; the
// context bounds the whole call, waits included.
func WithRetry(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// retries reports whether a call may be sent again at all.
func (p *RetryPolicy) retries(method string, header http.Header) bool {
	if p.MaxAttempts <= 1 {
		return false
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut:
		return true
	case http.MethodPost:
		return header.Get("Idempotency-Key") != ""
	}
	return false
}

// wait returns how long to wait before sending attempt+1 after an answer
// with status and header resp to attempt, and false when the call is not
// to be sent again.
func (p *RetryPolicy) wait(ctx context.Context, attempt, status int, resp http.Header) (time.Duration, bool) {
	if attempt >= p.MaxAttempts || (status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable) {
		return 0, false
	}
	maxWait := p.MaxWait
	if maxWait <= 0 {
		maxWait = DefaultRetryMaxWait
	}
	d, ok := retryAfter(resp)
	if !ok {
		d = min(maxWait, DefaultRetryBackoff<<min(attempt-1, 20))
	}
	if d > maxWait {
		return 0, false
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return 0, false
	}
	return d, true
}

func (p *RetryPolicy) sleep(ctx context.Context, d time.Duration) error {
	if p.SleepFunc != nil {
		return p.SleepFunc(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryAfter reads a Retry-After header (RFC 9110 §10.2.3): delay-seconds,
// or an HTTP-date, taken relative to the answer's own Date where it has one
// so that the two machines' clocks need not agree. A date in the past is a
// wait of zero.
func retryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second) // longer than any MaxWait; no overflow
		}
		return time.Duration(n) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	now := time.Now()
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		now = d
	}
	return max(0, at.Sub(now)), true
}
