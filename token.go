package wxnotify

import (
	"context"
	"time"
)

// AccessToken is an app's credential for WeChat's server API.
//
// WeChat's rules, which the token service is built around:
//   - a token lives about 2 hours (expires_in 7200);
//   - GET /cgi-bin/token issues a new token on every call and the previous
//     one keeps working for only 5 more minutes, so independent refreshers
//     invalidate each other (errcode 40001);
//   - POST /cgi-bin/stable_token in normal mode returns the current token
//     while it is valid and renews it in its last 5 minutes, the old one still
//     valid until it expires; force_refresh is limited to 20 calls a day;
//   - both endpoints have a daily call quota (errcode 45009).
type AccessToken struct {
	AppID     string    `json:"appid"`
	Value     Secret    `json:"access_token"`
	ExpiresAt time.Time `json:"expires_at"`
	FetchedAt time.Time `json:"fetched_at"`
}

// TokenStatus is what operators see of an app's token: never the token.
type TokenStatus struct {
	AppID       string    `json:"appid"`
	Mode        TokenMode `json:"mode"`
	HasToken    bool      `json:"has_token"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	FetchedAt   time.Time `json:"fetched_at,omitzero"`
	RefreshAt   time.Time `json:"refresh_at,omitzero"` // when the next refresh ahead of expiry is due
	Fetches     int64     `json:"fetches"`             // fetches from WeChat since the app was added
	LeaseHolder string    `json:"lease_holder,omitempty"`
	LastError   string    `json:"last_error,omitempty"` // the last refresh failure, with WeChat's errcode
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// SentToday counts the app's delivered sends of this quota day (the
	// Beijing-time date) per kind, against its daily send limits; at a
	// limit the app's sends of that kind wait for the next quota day.
	SentToday []DailySendStatus `json:"sent_today"`
}

// DailySendStatus is one kind's sends of the day and its limit.
type DailySendStatus struct {
	Kind  MessageKind `json:"kind"`
	Day   string      `json:"day"` // YYYY-MM-DD, Beijing time
	Sent  int64       `json:"sent"`
	Limit int64       `json:"limit"`
}

// TokenService is the one place that holds each app's access_token.
//
// However many wxnotify instances share a database, WeChat is asked for a new
// token about once per token lifetime per app: one instance at a time holds a
// lease to refresh, the others read the result from the database. Tokens are
// refreshed ahead of expiry, inside WeChat's overlap window, so a send never
// meets an expired token. WeChat errors while refreshing back off and keep
// the old token while it is valid; they show in Status, never as a crash.
type TokenService interface {
	// Token returns a valid token for the app, fetching one first only if
	// none is stored or the stored one has expired. Returns ENOTFOUND for an
	// unknown app and EUNAVAILABLE when no valid token can be had.
	Token(ctx context.Context, appID string) (*AccessToken, error)
	// Invalidate reports that WeChat rejected token (errcode 40001, 40014 or
	// 42001). It refreshes only if token is still the app's current token
	// (compare-and-swap), so a burst of failures with one token causes one
	// refresh, and it returns the token to use next. With stable_token,
	// force_refresh is used only when a normal fetch returns the rejected
	// token again.
	Invalidate(ctx context.Context, appID string, token Secret) (*AccessToken, error)
	// Status returns the app's token state for operators.
	Status(ctx context.Context, appID string) (*TokenStatus, error)
	// Refresh fetches a new token now, whatever the current one's expiry
	// (an operator's forced refresh), and returns the state after it. With
	// stable_token, force_refresh (20 a day) is used only when a normal
	// fetch returns the current token again. Returns ENOTFOUND for an
	// unknown app and EUNAVAILABLE when WeChat refuses.
	Refresh(ctx context.Context, appID string) (*TokenStatus, error)
}
