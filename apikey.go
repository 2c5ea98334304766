package wxnotify

import (
	"context"
	"slices"
	"time"
)

// AllApps in APIKey.Apps gives a key access to every app.
const AllApps = "*"

// APIKey is a credential of one of the team's backend services. The key
// itself is shown once, when it is created; wxnotify stores only its hash.
type APIKey struct {
	// ID is the public part of the key ("wxk_<id>_<secret>"), used to find it.
	ID string `json:"id"`
	// Name says which service holds the key.
	Name string `json:"name"`
	// Apps are the appids the key may act for, or AllApps. A key never acts
	// for an app outside this list: it cannot send as it, read its token or
	// see its messages.
	Apps      []string  `json:"apps"`
	CreatedAt time.Time `json:"created_at"`
}

// CanAccess reports whether the key may act for the app.
func (k *APIKey) CanAccess(appID string) bool {
	return slices.Contains(k.Apps, AllApps) || slices.Contains(k.Apps, appID)
}

// Validate checks the key's fields.
func (k *APIKey) Validate() error {
	if k.Name == "" {
		return FieldErrorf("name", "name required: say which service will hold the key")
	}
	if len(k.Apps) == 0 {
		return FieldErrorf("apps", "at least one app (or %q for all)", AllApps)
	}
	return nil
}

// APIKeyService creates and checks API keys.
type APIKeyService interface {
	// CreateAPIKey stores a new key and returns it in full: the only time
	// it is ever shown. Returns EINVALID for a bad field.
	CreateAPIKey(ctx context.Context, key *APIKey) (plaintext string, err error)
	// Authenticate returns the key that plaintext is, or EUNAUTHORIZED.
	Authenticate(ctx context.Context, plaintext string) (*APIKey, error)
	// FindAPIKeys lists keys (never their secrets).
	FindAPIKeys(ctx context.Context) ([]*APIKey, error)
	// DeleteAPIKey revokes a key; returns ENOTFOUND if there is none.
	DeleteAPIKey(ctx context.Context, id string) error
}

type apiKeyContextKey struct{}

// NewContextWithAPIKey returns ctx carrying the authenticated API key.
func NewContextWithAPIKey(ctx context.Context, k *APIKey) context.Context {
	return context.WithValue(ctx, apiKeyContextKey{}, k)
}

// APIKeyFromContext returns the authenticated API key, or nil.
func APIKeyFromContext(ctx context.Context) *APIKey {
	k, _ := ctx.Value(apiKeyContextKey{}).(*APIKey)
	return k
}

// CheckAppAccess returns EFORBIDDEN unless the context's API key may act for
// the app. Services call it, so the rule holds whatever the transport.
func CheckAppAccess(ctx context.Context, appID string) error {
	k := APIKeyFromContext(ctx)
	if k == nil {
		return Errorf(EUNAUTHORIZED, "API key required")
	}
	if !k.CanAccess(appID) {
		return Errorf(EFORBIDDEN, "this API key may not act for app %s", appID)
	}
	return nil
}
