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
// {"value": "…"}, so a payload written for WeChat works unchanged.
type DataValue string

// UnmarshalJSON accepts "v" and {"value":"v"}.
func (v *DataValue) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = DataValue(s)
		return nil
	}
	var o struct {
		Value *string `json:"value"`
	}
	if err := json.Unmarshal(b, &o); err != nil || o.Value == nil {
		return fmt.Errorf(`want a string or {"value": string}`)
	}
	*v = DataValue(*o.Value)
	return nil
}
