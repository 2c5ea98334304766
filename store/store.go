// Package store is the storage seam of wxnotify: one interface, implemented by
// one package per database engine (store/sqlite, store/postgres), and one
// conformance suite (store/storetest) that every engine runs.
//
// The drivers are thin: each method is one statement or one short transaction,
// and the rules live in the services above (token, ledger, delivery), so they
// are written once for both engines. Each method takes one *Params struct
// where it needs more than a key, and names start with the noun they act on
// so related methods sort together.
//
// Time is always passed in (Params.Now), never read from the database clock,
// so tests drive expiry with a fake clock and several instances agree. Every
// engine stores times in UTC truncated to TimePrecision and returns them in
// UTC; a zero time.Time is stored as NULL and read back as zero.
//
// A lease is held by LeaseHolder from its acquisition until just before
// LeaseUntil: at Now >= LeaseUntil it has expired. Intervals are half-open,
// so a lease ending at T and another starting at T do not overlap.
//
// This API is internal to wxnotify and not stable: do not implement it
// outside this repository.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TimePrecision is the precision of every time the store keeps (PostgreSQL's
// timestamptz). Drivers truncate to it before writing, so a value written and
// read back equals t.UTC().Truncate(TimePrecision).
const TimePrecision = time.Microsecond

// ErrNotFound is returned when the row asked for does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a unique key is taken already.
var ErrConflict = errors.New("store: conflict")

// Store is an open database with its schema migrated.
type Store interface {
	Executor
	// Engine names the engine: "sqlite" or "postgres".
	Engine() string
	// Migrate applies every pending migration embedded in the driver.
	// Open does this too; the wxnotify migrate command calls it alone.
	Migrate(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// Executor is every storage operation. Each method is atomic on its own.
type Executor interface {
	// AppInsert stores a new app. Returns ErrConflict if the appid exists.
	AppInsert(ctx context.Context, p *AppInsertParams) error
	// AppGet returns one app with its encrypted secret, or ErrNotFound.
	AppGet(ctx context.Context, appID string) (*App, error)
	// AppList returns every app ordered by appid.
	AppList(ctx context.Context) ([]*App, error)
	// AppDelete removes an app and its token row, or returns ErrNotFound.
	AppDelete(ctx context.Context, appID string) error

	// TokenGet returns the app's token row, or ErrNotFound if the app has
	// never had a token or lease.
	TokenGet(ctx context.Context, appID string) (*Token, error)
	// TokenLeaseAcquire takes the app's refresh lease for Holder until
	// Until, creating the token row if needed. It succeeds (true) if nobody
	// holds the lease, the lease expired before Now, or Holder holds it
	// already; otherwise it returns false and changes nothing. Two callers
	// can never both get true for overlapping leases. Returns ErrNotFound if
	// the app does not exist, and an error if p.Validate fails.
	TokenLeaseAcquire(ctx context.Context, p *TokenLeaseAcquireParams) (bool, error)
	// TokenLeaseRelease gives up Holder's lease; a no-op if Holder does not
	// hold it.
	TokenLeaseRelease(ctx context.Context, appID, holder string) error
	// TokenSave stores a newly fetched token, only if Holder still holds the
	// lease at Now (returns false otherwise and changes nothing). It bumps
	// Generation and Fetches and clears the last error (LastError,
	// LastErrorAt and RetryAt). It does not release the lease.
	TokenSave(ctx context.Context, p *TokenSaveParams) (bool, error)
	// TokenSaveError records a failed refresh (message without secrets) and
	// when the next attempt may be made. Only if Holder holds the lease at
	// Now; otherwise it changes nothing and returns nil.
	TokenSaveError(ctx context.Context, p *TokenSaveErrorParams) error

	// Credits (ledger)

	// CreditInsertBatch stores new credits, all or none, and returns how
	// many were new: a credit whose (AppID, Kind, Value) exists already (or
	// appears earlier in the batch) is skipped. Credits with an empty Value
	// (subscribe kinds) are never duplicates. Returns ErrNotFound if an app
	// does not exist, and an error if a credit fails Validate. Credits,
	// subscribe counters and events go with AppDelete.
	CreditInsertBatch(ctx context.Context, credits []*CreditInsertParams) (int, error)
	// CreditGet returns one credit, or ErrNotFound.
	CreditGet(ctx context.Context, id int64) (*Credit, error)
	// CreditSpend takes one use of the user's oldest usable credit (by
	// ObtainedAt, then ID) of the first kind in p.Kinds that has one, for
	// p.TemplateID exactly, and returns the credit as it is after the spend
	// (UseNumber tells which use was taken). Usable: UsesLeft > 0, not
	// dead, ExpiresAt zero or after p.Cutoff. Kind "long_term" is returned
	// without being decremented. Concurrent callers, on any number of
	// Stores, never take the same use, and get ErrNotFound only when the
	// user has no usable credit. Returns an error if p.Validate fails.
	CreditSpend(ctx context.Context, p *CreditSpendParams) (*Credit, error)
	// CreditRefund gives back one use of a credit; a credit that has all
	// its Uses stays as it is. Returns ErrNotFound if the credit does not
	// exist (or was purged).
	CreditRefund(ctx context.Context, id int64) error
	// CreditKill marks a credit dead with reason; it is never spent again.
	// Killing a dead credit keeps the first reason. Returns ErrNotFound if
	// the credit does not exist.
	CreditKill(ctx context.Context, id int64, reason string) error
	// CreditKillTemplate kills every usable credit of the user for the
	// template and returns how many. Returns an error if p.Validate fails.
	CreditKillTemplate(ctx context.Context, p *CreditKillTemplateParams) (int64, error)
	// CreditPurge deletes credits that are expired, dead, or used up (see
	// CreditPurgeParams), and returns how many.
	CreditPurge(ctx context.Context, p *CreditPurgeParams) (int64, error)
	// CreditStocks counts usable credits and uses per (app, kind, template),
	// and per user when p.OpenID is set, ordered by those keys.
	CreditStocks(ctx context.Context, p *CreditStocksParams) ([]*CreditStock, error)
	// SubscribeChoiceAdd adds p.Count to the app's counter of p.Choice for
	// the template.
	SubscribeChoiceAdd(ctx context.Context, p *SubscribeChoiceAddParams) error
	// EventInsert stores a pushed event and returns true, or returns false
	// and changes nothing if the same event (app, type, openid, template,
	// CreateTime, MsgID) is stored already: WeChat repeats a push it got no
	// timely answer to. Returns ErrNotFound if the app does not exist.
	EventInsert(ctx context.Context, e *Event) (bool, error)
	// EventListByMsgID returns the app's events with that msgid (sent
	// events), oldest first.
	EventListByMsgID(ctx context.Context, appID, msgID string) ([]*Event, error)

	// APIKeyInsert stores a new API key. Returns ErrConflict if the id exists.
	APIKeyInsert(ctx context.Context, k *APIKey) error
	// APIKeyGet returns one key, or ErrNotFound.
	APIKeyGet(ctx context.Context, id string) (*APIKey, error)
	// APIKeyList returns every key, oldest first.
	APIKeyList(ctx context.Context) ([]*APIKey, error)
	// APIKeyDelete removes a key, or returns ErrNotFound.
	APIKeyDelete(ctx context.Context, id string) error

	// Sessions (mini program)

	// SessionInsert stores a new mini-program session. Returns ErrNotFound
	// if the app does not exist, ErrConflict if the token hash exists, and
	// an error if p.Validate fails.
	SessionInsert(ctx context.Context, p *SessionInsertParams) error
	// SessionGet returns the session whose token hashes to tokenHash, or
	// ErrNotFound. It returns expired sessions too: the caller compares
	// ExpiresAt with its clock.
	SessionGet(ctx context.Context, tokenHash []byte) (*Session, error)
	// SessionDeleteExpired deletes every session with ExpiresAt <= now and
	// returns how many.
	SessionDeleteExpired(ctx context.Context, now time.Time) (int64, error)
	// AppCallbackSet creates or replaces the app's push configuration.
	// Returns ErrNotFound if the app does not exist.
	AppCallbackSet(ctx context.Context, c *AppCallback) error
	// AppCallbackGet returns the app's push configuration, or ErrNotFound
	// if none is set (or the app does not exist).
	AppCallbackGet(ctx context.Context, appID string) (*AppCallback, error)
	// AppCallbackDelete removes the app's push configuration, or returns
	// ErrNotFound. Sessions and callback rows also go with AppDelete.
	AppCallbackDelete(ctx context.Context, appID string) error
}

// App is an app row. The secret is AES-GCM ciphertext sealed by the token
// service; the store never sees it in clear.
type App struct {
	AppID        string
	Name         string
	SecretSealed []byte
	TokenMode    string
	CreatedAt    time.Time
}

// AppInsertParams are the fields of a new app.
type AppInsertParams struct {
	AppID        string
	Name         string
	SecretSealed []byte
	TokenMode    string
	Now          time.Time
}

// Token is an app's token row: the current token (sealed), its lease and the
// state of its refreshes.
type Token struct {
	AppID       string
	ValueSealed []byte    // nil until the first fetch
	ExpiresAt   time.Time // zero until the first fetch
	FetchedAt   time.Time
	// Generation counts tokens stored for the app; it changes exactly when
	// the token does, so readers can compare cheaply.
	Generation  int64
	Fetches     int64
	LeaseHolder string    // "" when free
	LeaseUntil  time.Time // zero when free
	LastError   string
	LastErrorAt time.Time
	RetryAt     time.Time // after a failure, no refresh before this
}

// TokenLeaseAcquireParams ask for an app's refresh lease.
type TokenLeaseAcquireParams struct {
	AppID  string
	Holder string
	Now    time.Time
	Until  time.Time
}

// Validate reports a malformed request: a lease needs an app, a holder,
// and an Until after Now. Drivers call it before touching the database.
func (p *TokenLeaseAcquireParams) Validate() error {
	switch {
	case p.AppID == "":
		return fmt.Errorf("store: lease acquire: AppID required")
	case p.Holder == "":
		return fmt.Errorf("store: lease acquire: Holder required")
	case !p.Until.After(p.Now):
		return fmt.Errorf("store: lease acquire: Until %v not after Now %v", p.Until, p.Now)
	}
	return nil
}

// TokenSaveParams store a freshly fetched token.
type TokenSaveParams struct {
	AppID       string
	Holder      string
	ValueSealed []byte
	ExpiresAt   time.Time
	Now         time.Time
}

// TokenSaveErrorParams record a failed refresh.
type TokenSaveErrorParams struct {
	AppID   string
	Holder  string
	Message string
	Now     time.Time
	RetryAt time.Time
}
