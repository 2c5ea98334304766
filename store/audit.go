package store

import (
	"fmt"
	"time"
)

// AuditEntry is an audit row: one operator action (wxnotify.AuditEntry).
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string
	AppID  string // "" when the action has no app
	Target string
	Detail string
}

// Validate reports a malformed entry. Drivers call it before writing.
func (e *AuditEntry) Validate() error {
	switch {
	case e.At.IsZero():
		return fmt.Errorf("store: audit insert: At required")
	case e.Actor == "" || e.Action == "" || e.Target == "":
		return fmt.Errorf("store: audit insert: Actor, Action and Target required")
	}
	return nil
}

// AuditListParams filter AuditList. Empty fields are not filtered on.
type AuditListParams struct {
	Action   string
	AppID    string
	BeforeID int64 // ids below this; 0: from the newest
	Limit    int   // at most this many; <= 0: 100
}
