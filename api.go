package wxnotify

// The wire contract of the operator API (/v1/…): the JSON bodies that the
// server in package http answers and reads and the Go client in package
// client sends and decodes, and the one table between error codes and HTTP
// statuses. They live here, beside the domain types they carry, so the
// client shares them without importing any server package. A change to a
// body is a change to the API: keep http/openapi.json in step.

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// codes maps error codes to HTTP statuses: the one table, read both ways.
var codes = map[string]int{
	ECONFLICT:     http.StatusConflict,
	EINVALID:      http.StatusBadRequest,
	ENOTFOUND:     http.StatusNotFound,
	EUNAUTHORIZED: http.StatusUnauthorized,
	EFORBIDDEN:    http.StatusForbidden,
	ERATELIMIT:    http.StatusTooManyRequests,
	EUNAVAILABLE:  http.StatusServiceUnavailable,
	EINTERNAL:     http.StatusInternalServerError,
}

// ErrorStatusCode returns the HTTP status the server answers an error code
// with; 500 for a code it does not know.
func ErrorStatusCode(code string) int {
	if v, ok := codes[code]; ok {
		return v
	}
	return http.StatusInternalServerError
}

// ErrorCodeFromStatus returns the error code of an HTTP status, for a client
// whose error answer carries no readable body; EINTERNAL for a status that
// no code maps to.
func ErrorCodeFromStatus(status int) string {
	for k, v := range codes {
		if v == status {
			return k
		}
	}
	return EINTERNAL
}

// ErrorResponse is the JSON body of every error answer.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what went wrong: a code from the E* constants, a message
// safe to show, and the input field at fault where there is one.
type ErrorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// DataValue is a keyword's value in a request body. It encodes as a plain
// string, and decodes from a plain string or from WeChat's own form
// {"value": "…"}, so a payload written for WeChat works unchanged. As at
// WeChat, whose reference gives data as {"key": {"value": any}}, the value
// may also be a JSON number, in either form: it becomes the number's text
// exactly as written (123 is "123", 1.50 is "1.50"; no float on the way, so
// nothing is rounded), which the keyword rules then check like any string.
type DataValue string

// UnmarshalJSON accepts "v", a number, and {"value": either}; true, false,
// null and anything else are refused, saying which was given.
func (v *DataValue) UnmarshalJSON(b []byte) error {
	b = trimJSONSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var o struct {
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(b, &o); err != nil || o.Value == nil {
			return fmt.Errorf(`want a string or a number, or {"value": string or number}`)
		}
		b = trimJSONSpace(o.Value)
	}
	s, err := dataValueText(b)
	if err != nil {
		return err
	}
	*v = DataValue(s)
	return nil
}

// dataValueText reads a JSON string or number as the text WeChat shows.
func dataValueText(b []byte) (string, error) {
	if len(b) == 0 {
		return "", fmt.Errorf("want a string or a number")
	}
	switch c := b[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", fmt.Errorf("want a string or a number: %v", err)
		}
		return s, nil
	case c == '-' || c >= '0' && c <= '9':
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return "", fmt.Errorf("want a string or a number: %v", err)
		}
		return n.String(), nil
	case c == 't' || c == 'f':
		return "", fmt.Errorf("a boolean is not a keyword value; send it as a string, such as \"是\"")
	case c == 'n':
		return "", fmt.Errorf("null is not a keyword value; leave the keyword out or send a string")
	default:
		return "", fmt.Errorf("want a string or a number, not an array or object")
	}
}

// trimJSONSpace removes the whitespace JSON allows around a value.
func trimJSONSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
