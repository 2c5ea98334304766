// Package store is the storage seam of wxnotify: one Driver interface,
// implemented by one package per database engine (store/sqlite,
// store/postgres), and one conformance suite (store/storetest) that every
// driver runs by passing itself in.
//
// Drivers hold SQL and nothing else: each Executor method is one statement
// or one short batch, works the same on the pool and in a transaction
// (ExecutorTx), and makes no product decision. The rules — which credit a
// message spends, which state it moves to, what an outcome writes — are
// written once in the services above (token, ledger, queue, delivery),
// which compose these methods in transactions (InTx), so they are the same
// on every engine and atomic. The SQL of each driver is in .sql files
// beside it.
//
// Time is passed in (Params.Now), so tests drive expiry with a fake clock.
// The queue takes its Now from Executor.Now, the database's clock, so
// instances with skewed clocks agree on due times, leases and expiry. Every
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
