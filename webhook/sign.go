package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Requests are signed as Standard Webhooks (https://www.standardwebhooks.com)
// specifies, so receivers can verify them with any of its libraries:
//
//	webhook-id: evt_42
//	webhook-timestamp: 1732500000
//	webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=
//
// The signature is the base64 HMAC-SHA256 of "<id>.<timestamp>.<body>",
// keyed with the bytes of the secret's base64 after "whsec_"
// (wxnotify.WebhookSigningKey).

// Sign returns the webhook-signature value of body sent as id at t:
// "v1,<base64 HMAC-SHA256(key, id.t.body)>".
func Sign(secret, id string, t time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(signature(signingKey(secret), id, strconv.FormatInt(t.Unix(), 10), body))
}

func signature(key []byte, id, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// signingKey is the HMAC key of a secret: the base64 after "whsec_", as
// Standard Webhooks defines it. A secret not of that form (one chosen by
// the caller before secrets had to be) is used as it is, so receivers
// verify it with their library's raw-key constructor (docs/webhooks.md).
func signingKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, SecretPrefix); ok {
		if key, err := base64.StdEncoding.DecodeString(rest); err == nil && len(key) > 0 {
			return key
		}
	}
	return []byte(secret)
}

// SecretPrefix starts every webhook secret generated (Standard Webhooks'
// "whsec_"), followed by the base64 of the key.
const SecretPrefix = "whsec_"

// Errors of Verify.
var (
	ErrSignatureMissing  = errors.New("webhook signature: webhook-id, webhook-timestamp or webhook-signature missing or malformed")
	ErrSignatureExpired  = errors.New("webhook signature: timestamp outside tolerance")
	ErrSignatureMismatch = errors.New("webhook signature: no v1 signature matches")
)

// Verify checks a request's webhook-id, webhook-timestamp and
// webhook-signature values against the raw body received, for receivers
// written in Go without a Standard Webhooks library (and tests). It
// accepts the request if the timestamp is within tolerance of now (either
// way, against replays; tolerance <= 0 means DefaultSignatureTolerance)
// and any of the space-separated "v1,<base64>" signatures equals the HMAC,
// compared in constant time.
func Verify(secret, id, timestamp, signatures string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultSignatureTolerance
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || id == "" || signatures == "" {
		return ErrSignatureMissing
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrSignatureExpired
	}
	want := signature(signingKey(secret), id, timestamp, body)
	for sig := range strings.FieldsSeq(signatures) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}
