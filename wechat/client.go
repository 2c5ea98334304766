// Package wechat is a typed client of the WeChat mini-program server API
// (https://api.weixin.qq.com): access tokens, login (jscode2session),
// subscribe and legacy template messages, and the two template libraries.
//
// Each endpoint is one method of *Client. Every method takes a context first
// and returns, on failure, an error that ClassOf sorts into one Class: a
// WeChat errcode becomes *Error, a non-2xx HTTP answer *StatusError, a body
// that cannot be decoded *DecodeError, and a failure of the network or of the
// context *NetError.
//
// Rules the package keeps:
//
//   - App secrets, access_tokens, session_keys and js_codes never appear in an
//     error string: network errors are re-wrapped without the request URL,
//     because *url.Error would print access_token= or secret= from the query.
//     AccessToken, Session and TemplateMessage redact themselves under fmt,
//     slog and encoding/json.
//   - Responses are decoded whatever their Content-Type (WeChat sends JSON as
//     text/plain on some endpoints), at most MaxBodySize bytes are read, and a
//     missing errcode means success.
//   - msgid is decoded as a decimal string, never through float64: WeChat's
//     msgids exceed 2^53.
//   - JSON request bodies do not escape <, > and &: WeChat shows the bytes it
//     receives, so "\u003c" would reach the user literally.
//   - Redirects are not followed, so an access_token in a query string is only
//     ever sent to the configured base URL.
//
// The package imports nothing outside the standard library, so it can be used
// on its own.
package wechat

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults used when the matching Options field is zero.
const (
	// DefaultBaseURL is WeChat's API host.
	DefaultBaseURL = "https://api.weixin.qq.com"

	// DefaultTimeout bounds one call from dial to the last byte of the body.
	DefaultTimeout = 10 * time.Second

	// MaxBodySize is the most the client reads of a response body. Every
	// documented answer is far smaller; a longer one is a *DecodeError.
	MaxBodySize = 1 << 20

	// MaxConnsPerHost sizes the default transport for hundreds of requests in
	// flight to one host.
	MaxConnsPerHost = 512
)

// Options configures a Client. The zero value gives a working client against
// DefaultBaseURL.
type Options struct {
	// BaseURL is the scheme and host (and optional path prefix) that endpoint
	// paths are appended to, e.g. a wechatsim server's URL in tests.
	// Empty means DefaultBaseURL. A trailing slash is ignored.
	BaseURL string

	// HTTPClient sends the requests. Nil means a client built on
	// NewTransport. The client is copied; its CheckRedirect is replaced so
	// that redirects are never followed, and its Timeout is set from Timeout
	// when it has none.
	HTTPClient *http.Client

	// Timeout bounds each call, including reading the body. Zero means
	// DefaultTimeout; a negative value means no timeout beyond the context's.
	Timeout time.Duration
}

// NewTransport returns the transport a Client uses when Options.HTTPClient is
// nil: keep-alives on, up to MaxConnsPerHost connections to one host (all of
// them kept idle between bursts), HTTP/2 when the server offers it, and TLS
// certificates always verified.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2 * MaxConnsPerHost,
		MaxIdleConnsPerHost:   MaxConnsPerHost,
		MaxConnsPerHost:       MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

// Client calls the WeChat server API. It is safe for concurrent use; create
// one per process with New and share it (the zero Client is not usable).
type Client struct {
	base string
	hc   *http.Client

	// bufs holds *bodyBuf for response bodies, so the hot path
	// (SendSubscribe) does not allocate a fresh buffer per call. Request
	// bodies are not pooled: the transport may still read one after Do
	// returns.
	bufs sync.Pool

	// Header values, shared read-only by every request.
	jsonCT []string
	formCT []string
}

// New returns a Client configured by opts; see Options for the defaults.
func New(opts Options) *Client {
	timeout := cmp.Or(opts.Timeout, DefaultTimeout)
	var hc http.Client
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient
	} else {
		hc.Transport = NewTransport()
	}
	if hc.Timeout == 0 && timeout > 0 {
		hc.Timeout = timeout
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{
		base:   strings.TrimRight(cmp.Or(opts.BaseURL, DefaultBaseURL), "/"),
		hc:     &hc,
		bufs:   sync.Pool{New: func() any { return new(bodyBuf) }},
		jsonCT: []string{"application/json"},
		formCT: []string{"application/x-www-form-urlencoded"},
	}
}

// bodyBuf reads one response body, at most MaxBodySize+1 bytes of it.
type bodyBuf struct {
	bytes.Buffer
	lr io.LimitedReader
}

// readFrom reads r into b and reports whether r held more than MaxBodySize
// bytes.
func (b *bodyBuf) readFrom(r io.Reader) (tooLarge bool, err error) {
	b.lr = io.LimitedReader{R: r, N: MaxBodySize + 1}
	n, err := b.ReadFrom(&b.lr)
	b.lr.R = nil
	return n > MaxBodySize, err
}

func (c *Client) getBuf() *bodyBuf { return c.bufs.Get().(*bodyBuf) }

func (c *Client) putBuf(b *bodyBuf) {
	if b.Cap() > 64<<10 { // keep the pool from pinning rare large bodies
		return
	}
	b.Reset()
	c.bufs.Put(b)
}

// call is one request: method and endpoint (a path such as
// "/cgi-bin/token"), the raw query (already escaped; it may hold secrets;
// see tokenQuery),
// an optional body with its content type, and out, a pointer to a struct
// that embeds result. It returns *Error for a non-zero errcode and the
// other error types described in the package comment.
func (c *Client) call(ctx context.Context, method, endpoint, rawQuery string, body []byte, contentType []string, out errcoder) error {
	var u string
	if rawQuery != "" {
		u = c.base + endpoint + "?" + rawQuery
	} else {
		u = c.base + endpoint
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		// A nil ctx or an unparsable base URL. The cause is dropped: a URL
		// parse error quotes the URL, and with it the query's secrets.
		return fmt.Errorf("wechat: %s %s: cannot build request (nil context or bad BaseURL)", method, endpoint)
	}
	if body != nil {
		req.Header["Content-Type"] = contentType
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return newNetError(method, endpoint, err)
	}
	defer resp.Body.Close()

	buf := c.getBuf()
	defer c.putBuf(buf)
	tooLarge, err := buf.readFrom(resp.Body)
	if err != nil {
		return newNetError(method, endpoint, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Endpoint: endpoint, StatusCode: resp.StatusCode}
	}
	if tooLarge {
		return &DecodeError{Endpoint: endpoint, Err: errTooLarge}
	}
	if err := decodeInto(buf.Bytes(), out); err != nil {
		return &DecodeError{Endpoint: endpoint, Err: err}
	}
	if r := out.res(); r.ErrCode != 0 {
		return newError(endpoint, r.ErrCode, r.ErrMsg)
	}
	return nil
}

var errTooLarge = errors.New("body exceeds MaxBodySize")

// tokenQuery returns the query string that carries an access_token.
func tokenQuery(accessToken string) string {
	return "access_token=" + url.QueryEscape(accessToken)
}
