package store

import (
	"context"
	"fmt"
	"time"
)

// BroadcastStore keeps broadcasts, recurring schedules, webhooks and the
// webhook outbox. It is separate from Executor; both drivers implement it
// (var _ store.BroadcastStore = (*DB)(nil)), and callers reach it by type
// assertion or through an interface that embeds it.
//
// Schedules are claimed with a lease, as messages are: ScheduleClaimDue
// hands a due schedule to one holder until LeaseUntil, and ScheduleAdvance
// moves it to its next occurrence only if that holder still holds it and
// the occurrence is still the one it claimed (compare-and-swap). Between the
// two the holder enqueues the occurrence's messages. So two instances never
// fire the same occurrence while a lease holds, and one that stalls past its
// lease loses the advance to the instance that took over (their messages
// share idempotency keys, so the users still get one each).
type BroadcastStore interface {
	// BroadcastInsert stores a new broadcast in state "accepting" and
	// returns its id. Returns ErrNotFound if the app does not exist.
	BroadcastInsert(ctx context.Context, p *BroadcastInsertParams) (int64, error)
	// BroadcastFinish moves an accepting broadcast to p.State (accepted or
	// aborted) with its counts. Returns ErrNotFound if there is none, and
	// ErrConflict (changing nothing) if it is not accepting.
	BroadcastFinish(ctx context.Context, p *BroadcastFinishParams) error
	// BroadcastAbortStale ends broadcasts still "accepting" that were
	// created before `before` — their upload was cut by a crash — as
	// "aborted", with Accepted set to the messages actually stored for them
	// (which are delivered normally) and Error saying what happened.
	// Returns how many it ended.
	BroadcastAbortStale(ctx context.Context, before, now time.Time) (int64, error)
	// BroadcastGet returns one broadcast, or ErrNotFound.
	BroadcastGet(ctx context.Context, id int64) (*Broadcast, error)

	// ScheduleInsert stores a new schedule and returns its id. Returns
	// ErrNotFound if the app does not exist. Schedules go with AppDelete.
	ScheduleInsert(ctx context.Context, p *ScheduleInsertParams) (int64, error)
	// ScheduleGet returns one schedule, or ErrNotFound.
	ScheduleGet(ctx context.Context, id int64) (*Schedule, error)
	// ScheduleList returns the schedules of p.AppIDs (nil: of every app)
	// ordered by id.
	ScheduleList(ctx context.Context, p *ScheduleListParams) ([]*Schedule, error)
	// ScheduleSetState sets a schedule's state and, when p.NextRunAt is not
	// zero, its next occurrence, and returns the row as it is after.
	// Returns ErrNotFound.
	ScheduleSetState(ctx context.Context, p *ScheduleSetStateParams) (*Schedule, error)
	// ScheduleDelete removes a schedule, or returns ErrNotFound.
	ScheduleDelete(ctx context.Context, id int64) error
	// ScheduleClaimDue claims up to p.Limit active schedules whose
	// NextRunAt <= p.Now and whose lease is free or expired (LeaseUntil <=
	// Now), earliest NextRunAt first, for p.Holder until p.LeaseUntil, and
	// returns them (NextRunAt is the occurrence to fire). Concurrent
	// claimers on any number of Stores never get the same schedule while a
	// lease holds (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one writer).
	ScheduleClaimDue(ctx context.Context, p *ScheduleClaimDueParams) ([]*Schedule, error)
	// ScheduleAdvance records that p.Occurrence was fired: LastRunAt =
	// Occurrence, NextRunAt = p.NextRunAt, lease released; only if p.Holder
	// still holds the lease and NextRunAt still equals p.Occurrence.
	// Returns false, changing nothing, otherwise.
	ScheduleAdvance(ctx context.Context, p *ScheduleAdvanceParams) (bool, error)

	// WebhookInsert stores a new webhook and returns its id. Returns
	// ErrNotFound if the app does not exist. Webhooks go with AppDelete.
	WebhookInsert(ctx context.Context, p *WebhookInsertParams) (int64, error)
	// WebhookGet returns one webhook, or ErrNotFound.
	WebhookGet(ctx context.Context, id int64) (*Webhook, error)
	// WebhookList returns the webhooks of p.AppIDs (nil: of every app)
	// ordered by id.
	WebhookList(ctx context.Context, p *WebhookListParams) ([]*Webhook, error)
	// WebhookDelete removes a webhook and its outbox rows, or returns
	// ErrNotFound.
	WebhookDelete(ctx context.Context, id int64) error

	// WebhookOutboxInsertMany stores events in one transaction: each
	// becomes one pending outbox row per webhook of its app at that moment
	// (URL and sealed secret copied), due at its Now. Events of apps with
	// no webhook store nothing. Returns the rows stored.
	WebhookOutboxInsertMany(ctx context.Context, ps []*WebhookOutboxInsertParams) (int64, error)
	// WebhookOutboxClaim claims up to p.Limit pending rows due at p.Now
	// (NextAttemptAt <= Now) whose lease is free or expired, oldest due
	// first, for p.Holder until p.LeaseUntil, incrementing Attempts.
	// Concurrent claimers never get the same row while a lease holds.
	WebhookOutboxClaim(ctx context.Context, p *WebhookOutboxClaimParams) ([]*WebhookOutbox, error)
	// WebhookOutboxFinish records one attempt of a claimed row, only if
	// p.Holder still holds it (returns false otherwise): Delivered deletes
	// the row; Dead keeps it as "dead", never claimed again; otherwise it
	// is due again at NextAttemptAt. The lease is released.
	WebhookOutboxFinish(ctx context.Context, p *WebhookOutboxFinishParams) (bool, error)
	// WebhookOutboxCounts counts outbox rows per state ("pending", "dead")
	// of one webhook, or of all when webhookID is 0.
	WebhookOutboxCounts(ctx context.Context, webhookID int64) (map[string]int64, error)
}

// Broadcast is a broadcast row.
type Broadcast struct {
	ID         int64
	AppID      string
	TemplateID string
	// Spec is the broadcast's template fields (kind, data, page, …) as
	// JSON; the store keeps it opaque.
	Spec      []byte
	State     string // accepting, accepted, aborted
	Accepted  int64
	Error     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// BroadcastInsertParams are the fields of a new broadcast.
type BroadcastInsertParams struct {
	AppID      string
	TemplateID string
	Spec       []byte
	Now        time.Time
}

// BroadcastFinishParams end a broadcast's acceptance.
type BroadcastFinishParams struct {
	ID       int64
	State    string // accepted or aborted
	Accepted int64
	Error    string
	Now      time.Time
}

// Validate reports a malformed request.
func (p *BroadcastFinishParams) Validate() error {
	if p.State != "accepted" && p.State != "aborted" {
		return fmt.Errorf("store: broadcast finish: state %q, want accepted or aborted", p.State)
	}
	return nil
}

// Schedule is a schedule row.
type Schedule struct {
	ID       int64
	AppID    string
	Name     string
	Cron     string
	Timezone string
	// Message is what each occurrence sends, as JSON; opaque to the store.
	Message     []byte
	State       string // active, paused
	NextRunAt   time.Time
	LastRunAt   time.Time
	LeaseHolder string
	LeaseUntil  time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ScheduleInsertParams are the fields of a new schedule.
type ScheduleInsertParams struct {
	AppID, Name, Cron, Timezone string
	Message                     []byte
	State                       string
	NextRunAt                   time.Time
	Now                         time.Time
}

// ScheduleListParams filter ScheduleList.
type ScheduleListParams struct {
	AppIDs []string // nil: every app
}

// ScheduleSetStateParams pause or resume a schedule.
type ScheduleSetStateParams struct {
	ID        int64
	State     string
	NextRunAt time.Time // zero: unchanged
	Now       time.Time
}

// ScheduleClaimDueParams ask for due schedules.
type ScheduleClaimDueParams struct {
	Holder     string
	Now        time.Time
	LeaseUntil time.Time
	Limit      int
}

// Validate reports a malformed request.
func (p *ScheduleClaimDueParams) Validate() error {
	switch {
	case p.Holder == "":
		return fmt.Errorf("store: schedule claim: Holder required")
	case !p.LeaseUntil.After(p.Now):
		return fmt.Errorf("store: schedule claim: LeaseUntil %v not after Now %v", p.LeaseUntil, p.Now)
	case p.Limit <= 0:
		return fmt.Errorf("store: schedule claim: Limit %d", p.Limit)
	}
	return nil
}

// ScheduleAdvanceParams record a fired occurrence.
type ScheduleAdvanceParams struct {
	ID         int64
	Holder     string
	Occurrence time.Time // the NextRunAt that was claimed
	NextRunAt  time.Time
	Now        time.Time
}

// Webhook is a webhook row; the secret is sealed by the service.
type Webhook struct {
	ID           int64
	AppID        string
	URL          string
	SecretSealed []byte
	CreatedAt    time.Time
}

// WebhookInsertParams are the fields of a new webhook.
type WebhookInsertParams struct {
	AppID        string
	URL          string
	SecretSealed []byte
	Now          time.Time
}

// WebhookListParams filter WebhookList.
type WebhookListParams struct {
	AppIDs []string // nil: every app
}

// WebhookOutboxInsertParams is one event for the webhooks of an app.
type WebhookOutboxInsertParams struct {
	AppID     string
	MessageID int64
	Event     string // e.g. message.delivered
	Payload   []byte // the JSON body
	Now       time.Time
}

// WebhookOutbox is an outbox row: one event for one webhook.
type WebhookOutbox struct {
	ID            int64
	WebhookID     int64
	URL           string
	SecretSealed  []byte
	Event         string
	MessageID     int64
	Payload       []byte
	State         string // pending, dead
	Attempts      int    // including the attempt being claimed
	NextAttemptAt time.Time
	LeaseHolder   string
	LeaseUntil    time.Time
	LastError     string
	CreatedAt     time.Time
}

// WebhookOutboxClaimParams ask for due outbox rows.
type WebhookOutboxClaimParams struct {
	Holder     string
	Now        time.Time
	LeaseUntil time.Time
	Limit      int
}

// Validate reports a malformed request.
func (p *WebhookOutboxClaimParams) Validate() error {
	switch {
	case p.Holder == "":
		return fmt.Errorf("store: webhook outbox claim: Holder required")
	case !p.LeaseUntil.After(p.Now):
		return fmt.Errorf("store: webhook outbox claim: LeaseUntil %v not after Now %v", p.LeaseUntil, p.Now)
	case p.Limit <= 0:
		return fmt.Errorf("store: webhook outbox claim: Limit %d", p.Limit)
	}
	return nil
}

// WebhookOutboxFinishParams record one attempt of a claimed row.
type WebhookOutboxFinishParams struct {
	ID            int64
	Holder        string
	Delivered     bool
	Dead          bool
	NextAttemptAt time.Time
	LastError     string
	Now           time.Time
}
