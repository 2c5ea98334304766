package wxnotify

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status (ErrorStatusCode) and back again
// (ErrorCodeFromStatus), so a caller can branch on the code wherever it meets it.
const (
	ECONFLICT     = "conflict"     // the thing exists already, or changed under the caller
	EINTERNAL     = "internal"     // a bug or an outage of ours; details are only logged
	EINVALID      = "invalid"      // the caller's input breaks a rule; Field names it
	ENOTFOUND     = "not_found"    // no such thing, or not visible to this caller
	EUNAUTHORIZED = "unauthorized" // no credential, or a wrong or expired one
	EFORBIDDEN    = "forbidden"    // a valid credential without the right to do this
	ERATELIMIT    = "rate_limited" // too many requests; retry later
	EUNAVAILABLE  = "unavailable"  // a dependency (WeChat, the database) failed; retry later
)

// Error is an error that a caller of wxnotify is meant to see. Any other error
// is reported to callers as EINTERNAL with a generic message and logged in full.
type Error struct {
	Code    string // one of the E* constants
	Message string // human-readable, safe to show to the caller: never a secret
	Field   string // with EINVALID, the input field at fault (JSON path, e.g. "data.thing1")
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("wxnotify error: code=%s field=%s message=%s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("wxnotify error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an EINVALID *Error that names the field at fault.
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, and
// "Internal error." for any other non-nil error, so internals never leak.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorField returns the field named by the first *Error in err's chain.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
