// Package client is the Go client of wxnotify's operator API, for the
// backend services that send notifications through wxnotify and for the
// wxnotify CLI's remote commands.
//
// Every method takes a context first and returns *wxnotify.Error for an
// error answer of the server (its code, message and field), so callers
// branch on wxnotify.ErrorCode(err) whatever the transport. A server that
// cannot be reached is EUNAVAILABLE.
//
// A call is sent once unless the client has a RetryPolicy (WithRetry):
// then an idempotent call answered 429 or 503 is sent again after the
// answer's Retry-After, and a call that is not idempotent never is.
//
// The client never logs, and its errors never carry the API key or an
// access_token.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxnotify/wxnotify"
)

// Defaults of a Client.
const (
	// DefaultRequestTimeout bounds one ordinary call, from sending the
	// request to reading the answer.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultDialTimeout bounds connecting to the server.
	DefaultDialTimeout = 10 * time.Second
	// MaxErrorBodyBytes bounds how much of an error answer is read.
	MaxErrorBodyBytes = 64 << 10
)

// Client calls one wxnotify server with one API key. It is safe for
// concurrent use.
type Client struct {
	baseURL        string
	apiKey         string
	httpClient     *http.Client
	requestTimeout time.Duration
	userAgent      string
	retry          RetryPolicy
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send with hc instead of its own (which
// has dial, TLS and response-header timeouts but no overall timeout, since
// broadcasts stream long bodies).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.httpClient = hc } }

// WithRequestTimeout bounds each ordinary call; 0 means no bound beyond the
// context's. Broadcast uploads are bounded by wxnotify.MaxBroadcastUpload instead.
func WithRequestTimeout(d time.Duration) Option { return func(c *Client) { c.requestTimeout = d } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the server at baseURL ("http://127.0.0.1:8080")
// that authenticates with apiKey ("wxk_…").
func New(baseURL, apiKey string, opts ...Option) *Client {
	c := &Client{
		baseURL:        strings.TrimRight(baseURL, "/"),
		apiKey:         apiKey,
		requestTimeout: DefaultRequestTimeout,
		userAgent:      "wxnotify-go-client",
	}
	for _, o := range opts {
		o(c)
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 2 * time.Minute, // after the body is sent
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   16,
			ForceAttemptHTTP2:     true,
		}}
	}
	return c
}

// BaseURL returns the server's base URL.
func (c *Client) BaseURL() string { return c.baseURL }

// do sends one request with a JSON body (in, unless nil) and decodes a 2xx
// JSON answer into out (unless nil). It returns the response headers. With
// a RetryPolicy it sends an idempotent request again after a 429 or 503.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any, header http.Header) (http.Header, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
	}
	retries := c.retry.retries(method, header)
	for attempt := 1; ; attempt++ {
		h, status, err := c.doOnce(ctx, method, path, query, body, in != nil, out, header)
		if err == nil || !retries {
			return h, err
		}
		wait, ok := c.retry.wait(ctx, attempt, status, h)
		if !ok {
			return h, err
		}
		if serr := c.retry.sleep(ctx, wait); serr != nil {
			return h, fmt.Errorf("%s %s: waiting %v to retry after %q: %w", method, path, wait, wxnotify.ErrorMessage(err), serr)
		}
	}
}

// doOnce sends the request once, bounded by the request timeout, and
// returns the answer's headers and status (0 when there was no answer).
func (c *Client) doOnce(ctx context.Context, method, path string, query url.Values, body []byte, hasBody bool, out any, header http.Header) (http.Header, int, error) {
	if c.requestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.requestTimeout)
		defer cancel()
	}
	var r io.Reader
	if hasBody {
		r = bytes.NewReader(body)
	}
	req, err := c.newRequest(ctx, method, path, query, r)
	if err != nil {
		return nil, 0, err
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.send(ctx, req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	return resp.Header, resp.StatusCode, decodeResponse(resp, out)
}

func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body io.Reader) (*http.Request, error) {
	u := c.baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	return req, nil
}

// send sends req; a transport failure is EUNAVAILABLE unless ctx ended.
func (c *Client) send(ctx context.Context, req *http.Request) (*http.Response, error) {
	resp, err := c.httpClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, ctx.Err())
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL, which may carry a query
		}
		return nil, wxnotify.Errorf(wxnotify.EUNAVAILABLE, "cannot reach wxnotify at %s: %v", c.baseURL, err)
	}
	return resp, nil
}

// decodeResponse decodes a 2xx answer into out, or returns the error the
// answer carries.
func decodeResponse(resp *http.Response, out any) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return readError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxErrorBodyBytes))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", resp.Request.Method, resp.Request.URL.Path, err)
	}
	return nil
}

// readError turns an error answer into *wxnotify.Error: the server's
// {error:{code,message,field}} when the body is one, else a code from the
// status.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBodyBytes))
	var er wxnotify.ErrorResponse
	if err := json.Unmarshal(b, &er); err == nil && er.Error.Code != "" {
		return &wxnotify.Error{Code: er.Error.Code, Message: er.Error.Message, Field: er.Error.Field}
	}
	msg := strings.TrimSpace(string(b))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &wxnotify.Error{
		Code:    wxnotify.ErrorCodeFromStatus(resp.StatusCode),
		Message: fmt.Sprintf("%s %s: status %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, msg),
	}
}

func idPath(prefix string, id int64, suffix string) string {
	return prefix + "/" + strconv.FormatInt(id, 10) + suffix
}
