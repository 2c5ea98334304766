// Package openapitest checks HTTP exchanges with a wxnotify server against
// the OpenAPI document that server serves (GET /openapi.json), for tests:
// Transport is an http.RoundTripper that the end-to-end helpers and the
// http package's tests send every request through, so a response the
// document does not describe (an undocumented status or field, a null where
// none is allowed) fails the test that produced it.
//
// Only test binaries import it: it brings kin-openapi, which the server
// itself does not need.
package openapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// DocumentPath is where a wxnotify server serves its OpenAPI document.
const DocumentPath = "/openapi.json"

// MaxBody bounds the bodies Transport reads to check; a larger one is
// passed through unchecked.
const MaxBody = 32 << 20

func init() {
	// The broadcast upload's streaming form: one JSON value per line.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
	// WeChat's push callback.
	openapi3filter.RegisterBodyDecoder("text/xml", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/xml", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/css", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/javascript", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("image/svg+xml", openapi3filter.PlainBodyDecoder)
}

// Error is a disagreement between an exchange and the document.
type Error struct {
	Method, URL string
	Status      int
	Reason      string
}

func (e *Error) Error() string {
	return fmt.Sprintf("openapi contract: %s %s → %d: %s", e.Method, e.URL, e.Status, e.Reason)
}

// Transport checks each exchange with a wxnotify server against the
// document served by that server (fetched once per scheme://host through
// Base). Hosts that serve no OpenAPI document (the WeChat simulator, a
// webhook receiver) are passed through unchecked.
//
// An exchange disagrees with the document when the route is not documented
// yet answered other than 404/405, when the request breaks the document
// (a bad parameter, an enum value not listed, a body the schema refuses)
// yet the server accepted it (below 400), or when the response's status,
// content type or body is not what the operation documents. Then RoundTrip
// closes the response and returns an *Error, so the caller's request fails
// with the reason; when OnError is set it is called instead and the
// response is returned as it came.
type Transport struct {
	// Base sends the requests; nil means http.DefaultTransport (read when
	// first used, so a Transport installed as http.DefaultTransport must
	// set Base).
	Base http.RoundTripper
	// OnError, when set, receives each disagreement instead of the
	// caller's request failing.
	OnError func(err error)

	mu   sync.Mutex
	docs map[string]*served
}

type served struct {
	router routers.Router // nil: the host serves no OpenAPI document
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// document returns the router of the document served at origin, fetching
// it the first time.
func (t *Transport) document(ctx context.Context, origin string) (*served, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.docs[origin]; ok {
		return s, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, origin+DocumentPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := t.base().RoundTrip(req)
	if err != nil {
		return nil, err // not cached: the server may not be up yet
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	s := &served{}
	if resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte(`"openapi"`)) {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(b)
		if err != nil {
			return nil, fmt.Errorf("openapi contract: %s%s does not load: %w", origin, DocumentPath, err)
		}
		if err := doc.Validate(ctx); err != nil {
			return nil, fmt.Errorf("openapi contract: %s%s is not a valid OpenAPI document: %w", origin, DocumentPath, err)
		}
		if s.router, err = legacy.NewRouter(doc); err != nil {
			return nil, fmt.Errorf("openapi contract: %s%s: %w", origin, DocumentPath, err)
		}
	}
	if t.docs == nil {
		t.docs = map[string]*served{}
	}
	t.docs[origin] = s
	return s, nil
}

// RoundTrip sends req and checks the exchange.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == DocumentPath {
		return t.base().RoundTrip(req)
	}
	s, err := t.document(req.Context(), req.URL.Scheme+"://"+req.URL.Host)
	if err != nil {
		var e *Error
		if errors.As(err, &e) || strings.HasPrefix(err.Error(), "openapi contract") {
			return nil, err
		}
		return t.base().RoundTrip(req) // the server is down: let the caller see that
	}
	if s.router == nil {
		return t.base().RoundTrip(req)
	}

	// Keep the request body, to check it and send it; a body of unknown
	// length (a stream the caller is still writing) is sent as it comes,
	// unchecked, and only the answer is checked.
	var reqBody []byte
	streamed := req.Body != nil && req.Body != http.NoBody && req.ContentLength <= 0
	if req.Body != nil && req.Body != http.NoBody && !streamed {
		reqBody, err = io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		if len(reqBody) > MaxBody {
			req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(reqBody), req.Body))
			return t.base().RoundTrip(req)
		}
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
	}

	find := req
	if p := req.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
		// A directory of a file-server subtree ("GET /dashboard/") serves
		// its index.html, documented as the subtree's {path}; the router
		// itself treats "/x/" as "/x", another operation.
		find = req.Clone(req.Context())
		find.URL.Path += "index.html"
	}
	route, params, routeErr := s.router.FindRoute(find)
	var reqErr error
	var input *openapi3filter.RequestValidationInput
	if routeErr == nil {
		check := req.Clone(req.Context())
		check.Body = io.NopCloser(bytes.NewReader(reqBody)) // never the stream: it is sent
		if len(reqBody) > 0 && check.Header.Get("Content-Type") == "" {
			// The server reads a body without a Content-Type as JSON
			// (the document's info.description says so).
			check.Header.Set("Content-Type", "application/json")
		}
		input = &openapi3filter.RequestValidationInput{
			Request: check, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true,
				ExcludeRequestBody: streamed},
		}
		input.Options.WithCustomSchemaErrorFunc(schemaError)
		reqErr = openapi3filter.ValidateRequest(req.Context(), input)
	}

	resp, err := t.base().RoundTrip(req)
	if err != nil {
		return nil, err
	}
	fail := func(reason string) (*http.Response, error) {
		e := &Error{Method: req.Method, URL: req.URL.Path, Status: resp.StatusCode, Reason: reason}
		if t.OnError != nil {
			t.OnError(e)
			return resp, nil
		}
		resp.Body.Close()
		return nil, e
	}
	if routeErr != nil {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return resp, nil
		}
		return fail("the route is not in the document: " + routeErr.Error())
	}
	if reqErr != nil && resp.StatusCode < 400 {
		return fail("the server accepted a request the document refuses: " + reqErr.Error())
	}

	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	opts.WithCustomSchemaErrorFunc(schemaError)
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var respBody []byte
	if ct == "text/event-stream" || req.Method == http.MethodHead {
		opts.ExcludeResponseBody = true // a stream: never read to its end here
	} else {
		respBody, err = io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
		if err != nil {
			resp.Body.Close()
			return nil, err
		}
		rest := resp.Body
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(respBody), rest), rest}
		if len(respBody) > MaxBody {
			return resp, nil
		}
	}
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input, Status: resp.StatusCode, Header: resp.Header, Options: opts,
	}
	rin.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(req.Context(), rin); err != nil {
		return fail("the response is not what the document says: " + err.Error())
	}
	return resp, nil
}

// schemaError says where a value breaks its schema and how, without
// printing the schema and the whole value.
func schemaError(err *openapi3.SchemaError) string {
	return fmt.Sprintf("at /%s: %s", strings.Join(err.JSONPointer(), "/"), err.Reason)
}
