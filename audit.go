package wxnotify

import (
	"context"
	"time"
)

// Audit actions: what an operator did. Each is an API route, a CLI command
// and a dashboard button; each success is written to the audit log.
const (
	AuditMessageCancel  = "message.cancel"
	AuditMessageRetry   = "message.retry"
	AuditSchedulePause  = "schedule.pause"
	AuditScheduleResume = "schedule.resume"
	AuditScheduleDelete = "schedule.delete"
	AuditTokenRefresh   = "token.refresh"
	AuditTemplateSync   = "templates.sync"
)

// AuditActions lists the actions, in the order operators read them.
var AuditActions = []string{
	AuditMessageCancel, AuditMessageRetry, AuditSchedulePause, AuditScheduleResume, AuditScheduleDelete,
	AuditTokenRefresh, AuditTemplateSync,
}

// Limits of the audit log.
const (
	MaxAuditActorLen  = 200
	MaxAuditDetailLen = 1000
	MaxAuditList      = 1000
)

// AuditEntry is one operator action: who did what, when, to what. Entries
// are written after the action succeeded and never change; they hold no
// secrets (no tokens, no form_ids).
type AuditEntry struct {
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	// Actor is who acted: "apikey:<id> (<name>)", "dashboard (<address>)",
	// or "cli:<user>" for a command that worked on the database directly.
	Actor string `json:"actor"`
	// Action is one of AuditActions.
	Action string `json:"action"`
	// AppID is the app acted on, when there is one.
	AppID string `json:"appid,omitempty"`
	// Target names what was acted on: "message 12", "schedule 3", the appid.
	Target string `json:"target"`
	// Detail says what changed ("failed → queued", "2 added, 0 removed").
	Detail string `json:"detail,omitempty"`
}

// AuditFilter selects audit entries. Empty fields are not filtered on.
type AuditFilter struct {
	Action   string
	AppID    string
	BeforeID int64 // paging: ids below this
	Limit    int   // default 100, at most MaxAuditList
}

// AuditService keeps the operators' audit log.
type AuditService interface {
	// RecordAudit stores e (ID and, when zero, At are set). The actor is
	// taken from the context's API key when e.Actor is empty.
	RecordAudit(ctx context.Context, e *AuditEntry) error
	// FindAuditEntries lists entries newest first. Needs an API key for
	// every app (an operator's): EFORBIDDEN otherwise.
	FindAuditEntries(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)
}

// AuditList is the answer of GET /v1/audit.
type AuditList struct {
	Entries []*AuditEntry `json:"entries"`
	// NextBefore, when not 0, is the before= of the next (older) page.
	NextBefore int64 `json:"next_before,omitempty"`
}

// AuditActor names the caller of ctx as the audit log writes it.
func AuditActor(ctx context.Context) string {
	k := APIKeyFromContext(ctx)
	switch {
	case k == nil:
		return "unknown"
	case k.Name != "" && k.Name != k.ID:
		return "apikey:" + k.ID + " (" + k.Name + ")"
	}
	return "apikey:" + k.ID
}
