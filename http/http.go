// Package http is wxnotify's HTTP surface: one Server, with each surface
// (operator API, token endpoint, mini-program endpoints, WeChat callbacks)
// registering its own routes. Every handler parses, makes one service call,
// and either encodes the result or calls Error. The bodies of the operator
// API are the root package's wire types (wxnotify.MessageRequest, …), which
// the Go client shares; what is here is only about serving them.
package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wxnotify/wxnotify"
)

// RetryAfterUnavailable is the Retry-After of a 503: a database or WeChat
// outage is worth retrying soon, and a client that retries at once only
// adds to the load of one that is recovering.
const RetryAfterUnavailable = 5 * time.Second

// Error writes err as a JSON error answer. Internal errors are logged in full
// and answered with a generic message. EUNAVAILABLE (a dependency such as
// the database cannot serve now: the store marks its own outages) is 503
// with Retry-After, logged as a warning with its cause.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := wxnotify.ErrorCode(err), wxnotify.ErrorMessage(err)
	switch code {
	case wxnotify.EINTERNAL:
		s.logger().ErrorContext(r.Context(), "internal error", "request_id", requestIDFrom(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
	case wxnotify.EUNAVAILABLE:
		s.logger().WarnContext(r.Context(), "unavailable", "request_id", requestIDFrom(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfterUnavailable/time.Second)))
		}
	}
	writeJSON(w, wxnotify.ErrorStatusCode(code), &wxnotify.ErrorResponse{Error: wxnotify.ErrorBody{
		Code: code, Message: msg, Field: wxnotify.ErrorField(err), RequestID: requestIDFrom(r.Context()),
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decodeJSON reads a JSON body of at most s.MaxBodyBytes into v, and turns
// every failure into an EINVALID error that says what is wrong. The body
// is read whole (it is bounded) so its raw text is checked before decoding
// (checkJSONText): invalid UTF-8 is refused, not turned into U+FFFD.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody()))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return wxnotify.Errorf(wxnotify.EINVALID, "request body larger than %d bytes", tooBig.Limit)
		}
		return wxnotify.Errorf(wxnotify.EINVALID, "cannot read request body")
	}
	if err := checkJSONText(body, ""); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &tooBig):
			return wxnotify.Errorf(wxnotify.EINVALID, "request body larger than %d bytes", tooBig.Limit)
		case errors.As(err, &typeErr):
			return wxnotify.FieldErrorf(typeErr.Field, "wrong type: want %s", typeErr.Type)
		case errors.As(err, &syntaxErr):
			return wxnotify.Errorf(wxnotify.EINVALID, "malformed JSON at byte %d", syntaxErr.Offset)
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return wxnotify.FieldErrorf(strings.Trim(name, `"`), "unknown field")
		}
		return wxnotify.Errorf(wxnotify.EINVALID, "invalid JSON body: %v", err)
	}
	if dec.More() {
		return wxnotify.Errorf(wxnotify.EINVALID, "invalid JSON body: more than one value")
	}
	return nil
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}
