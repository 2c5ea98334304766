package wechat

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Contact is an http.RoundTripper that remembers how the last requests to
// WeChat went, for a readiness check: when WeChat last answered, when it
// last did not (a network error, a timeout, an HTTP 5xx), and how many
// requests in a row it did not answer. An errcode in a 200 answer is an
// answer: WeChat is there.
//
// Use it as the transport of Options.HTTPClient:
//
//	c := &wechat.Contact{}
//	client := wechat.New(wechat.Options{HTTPClient: &http.Client{Transport: c}})
type Contact struct {
	// Next sends the requests; nil means NewTransport().
	Next http.RoundTripper
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	once sync.Once
	mu   sync.Mutex
	last ContactStatus
}

// ContactStatus is what Contact knows. Error never holds a URL's query, so
// no access_token: only the path and the cause.
type ContactStatus struct {
	LastAnswer  time.Time // zero before the first answer
	LastFailure time.Time // zero before the first failure
	Error       string    // the last failure, e.g. "POST /cgi-bin/stable_token: dial tcp …: connection refused"
	Failures    int       // failures since the last answer
}

// RoundTrip sends r through Next and records the outcome.
func (c *Contact) RoundTrip(r *http.Request) (*http.Response, error) {
	c.once.Do(func() {
		if c.Next == nil {
			c.Next = NewTransport()
		}
		if c.Now == nil {
			c.Now = time.Now
		}
	})
	resp, err := c.Next.RoundTrip(r)
	now := c.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL would carry the access_token
		}
		c.fail(now, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, err))
	case resp.StatusCode >= 500:
		c.fail(now, fmt.Sprintf("%s %s: HTTP %d", r.Method, r.URL.Path, resp.StatusCode))
	default:
		c.last.LastAnswer = now
		c.last.Failures = 0
	}
	return resp, err
}

func (c *Contact) fail(now time.Time, msg string) {
	c.last.LastFailure = now
	c.last.Error = msg
	c.last.Failures++
}

// Status returns what Contact knows now.
func (c *Contact) Status() ContactStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}
