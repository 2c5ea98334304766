package store

import (
	"fmt"
	"time"
)

// Rows of broadcasts, recurring schedules, webhooks and the webhook outbox.
//
// Schedules are claimed with a lease, as messages are: ScheduleClaimDue
// hands a due schedule to one holder until LeaseUntil, and ScheduleAdvance
// moves it to its next occurrence only if that holder still holds it and
// the occurrence is still the one it claimed (compare-and-swap). Between the
// two the holder enqueues the occurrence's messages. So two instances never
// fire the same occurrence while a lease holds, and one that stalls past its
// lease loses the advance to the instance that took over (their messages
// share idempotency keys, so the users still get one each).

// Broadcast is a broadcast row.
type Broadcast struct {
	ID         int64
	AppID      string
	TemplateID string
	// Spec is the broadcast's template fields (kind, data, page, …) as
	// JSON; the store keeps it opaque.
	Spec      []byte
	State     string // accepting, accepted, aborted, finished
	Accepted  int64
	Error     string
	CreatedAt time.Time
	UpdatedAt time.Time
	// IdempotencyKey is the caller's key ("" for none); unique per app.
	IdempotencyKey string
	// Fingerprint identifies the request that stored the broadcast,
	// written when its upload ended (BroadcastFinish); nil before.
	Fingerprint []byte
	// Counts are its messages by state, as a JSON object, written when
	// it finished (BroadcastFinishDone); nil before.
	Counts     []byte
	FinishedAt time.Time
}

// BroadcastInsertParams are the fields of a new broadcast.
type BroadcastInsertParams struct {
	AppID      string
	TemplateID string
	Spec       []byte
	// IdempotencyKey, when not "", must be new for the app: a key used
	// already is ErrConflict.
	IdempotencyKey string
	Now            time.Time
}

// BroadcastListParams filter BroadcastList.
type BroadcastListParams struct {
	AppIDs   []string // nil: every app
	State    string   // "": every state
	BeforeID int64    // 0: from the newest
	Limit    int
}

// Validate reports a malformed request.
func (p *BroadcastListParams) Validate() error {
	if p.Limit <= 0 {
		return fmt.Errorf("store: broadcast list: Limit %d", p.Limit)
	}
	return nil
}

// BroadcastFinishParams end a broadcast's acceptance.
type BroadcastFinishParams struct {
	ID       int64
	State    string // accepted or aborted
	Accepted int64
	Error    string
	// Fingerprint identifies the request (the idempotency check of a
	// retry compares it); nil keeps none.
	Fingerprint []byte
	Now         time.Time
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

// WebhookOutboxListParams filter WebhookOutboxList.
type WebhookOutboxListParams struct {
	WebhookID int64
	State     string // pending, dead; "": both
	BeforeID  int64  // 0: from the newest
	Limit     int
}

// Validate reports a malformed request.
func (p *WebhookOutboxListParams) Validate() error {
	if p.Limit <= 0 {
		return fmt.Errorf("store: webhook outbox list: Limit %d", p.Limit)
	}
	return nil
}

// WebhookOutboxReplayParams send dead outbox rows again.
type WebhookOutboxReplayParams struct {
	WebhookID int64
	IDs       []int64 // nil: every dead row of the webhook
	Now       time.Time
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
