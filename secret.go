package wxnotify

import (
	"log/slog"
	"strconv"
)

// Secret holds a value that must never be printed, logged or returned: an app
// secret, an access_token, a session_key. Every way of turning it into text
// redacts it; code that needs the value calls Reveal, so each use is visible
// in review.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value itself.
func (s Secret) Reveal() string { return string(s) }

// String redacts the value.
func (s Secret) String() string { return redacted }

// GoString redacts the value under %#v.
func (s Secret) GoString() string { return redacted }

// LogValue redacts the value in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText redacts the value in JSON, XML and other text encodings, so a
// struct that holds a Secret cannot be serialised into a response by mistake.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Mask returns a form safe to log for values that must be told apart, such as
// form_ids: the first 4 characters and the length.
func Mask(v string) string {
	r := []rune(v)
	if len(r) <= 4 {
		return "****"
	}
	return string(r[:4]) + "…(" + strconv.Itoa(len(r)) + ")"
}
