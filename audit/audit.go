// Package audit keeps the operators' audit log (wxnotify.AuditService):
// one row per action an operator took — cancel or retry a message, pause,
// resume or delete a schedule, refresh a token, re-sync templates — written
// by whichever surface took it (the API, the dashboard, a CLI command that
// works on the database directly) once the action succeeded.
package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

// Service implements wxnotify.AuditService over the store. Store is
// required; Now defaults to time.Now.
type Service struct {
	Store store.Executor
	Now   func() time.Time
}

var _ wxnotify.AuditService = (*Service)(nil)

// RecordAudit implements wxnotify.AuditService. Over-long actors and
// details are cut to their limits.
func (s *Service) RecordAudit(ctx context.Context, e *wxnotify.AuditEntry) error {
	if e.At.IsZero() {
		now := time.Now
		if s.Now != nil {
			now = s.Now
		}
		e.At = now().UTC()
	}
	if e.Actor == "" {
		e.Actor = wxnotify.AuditActor(ctx)
	}
	e.Actor = cut(e.Actor, wxnotify.MaxAuditActorLen)
	e.Detail = cut(e.Detail, wxnotify.MaxAuditDetailLen)
	id, err := s.Store.AuditInsert(ctx, &store.AuditEntry{At: e.At, Actor: e.Actor, Action: e.Action, AppID: e.AppID, Target: e.Target, Detail: e.Detail})
	if err != nil {
		return fmt.Errorf("record audit entry: %w", err)
	}
	e.ID = id
	return nil
}

// FindAuditEntries implements wxnotify.AuditService.
func (s *Service) FindAuditEntries(ctx context.Context, f wxnotify.AuditFilter) ([]*wxnotify.AuditEntry, error) {
	if err := wxnotify.CheckAppAccess(ctx, wxnotify.AllApps); err != nil {
		return nil, wxnotify.Errorf(wxnotify.EFORBIDDEN, "the audit log needs an API key for every app (an operator's)")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.Store.AuditList(ctx, &store.AuditListParams{Action: f.Action, AppID: f.AppID, BeforeID: f.BeforeID, Limit: min(limit, wxnotify.MaxAuditList)})
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	out := make([]*wxnotify.AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = &wxnotify.AuditEntry{ID: r.ID, At: r.At, Actor: r.Actor, Action: r.Action, AppID: r.AppID, Target: r.Target, Detail: r.Detail}
	}
	return out, nil
}

// cut shortens s to at most n runes, marking the cut.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
