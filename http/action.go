package http

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/wxnotify/wxnotify"
)

// Operator actions: cancel and retry a message; pause, resume and delete a
// schedule; refresh a token; re-sync templates. Each is an API route (an
// API key) and a dashboard route (a session, dashboard_action.go); both
// run the act* method here, which makes the one service call and, once it
// succeeded, writes the audit entry (who, when, what). An audit entry that
// cannot be written is logged: the action stands.

func (s *Server) registerActionRoutes() {
	s.handle("POST /v1/messages/{id}/retry", s.requireAPIKey(s.handleMessageRetry))
	s.handle("POST /v1/apps/{appid}/access_token/refresh", s.requireAPIKey(s.handleTokenRefresh))
	s.handle("GET /v1/audit", s.requireAPIKey(s.handleAuditList))
}

// actor names who is acting: the dashboard and the operator's address, or
// the API key.
func (s *Server) actor(r *http.Request) string {
	if k := wxnotify.APIKeyFromContext(r.Context()); k != nil && k.ID == dashboardKeyID {
		return "dashboard (" + s.clientAddr(r).String() + ")"
	}
	return wxnotify.AuditActor(r.Context())
}

// audit records a successful action.
func (s *Server) audit(r *http.Request, e *wxnotify.AuditEntry) {
	if s.AuditService == nil {
		return
	}
	e.Actor = s.actor(r)
	if err := s.AuditService.RecordAudit(context.WithoutCancel(r.Context()), e); err != nil {
		s.logger().ErrorContext(r.Context(), "audit entry not written", "action", e.Action, "target", e.Target, "err", err)
	}
}

// actMessage cancels or retries a message.
func (s *Server) actMessage(r *http.Request, id int64, action string) (*wxnotify.Message, error) {
	before, _, err := s.MessageService.FindMessageByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	var m *wxnotify.Message
	if action == wxnotify.AuditMessageRetry {
		m, err = s.MessageService.RetryMessage(r.Context(), id)
	} else {
		m, err = s.MessageService.CancelMessage(r.Context(), id)
	}
	if err != nil {
		return nil, err
	}
	s.audit(r, &wxnotify.AuditEntry{Action: action, AppID: m.AppID, Target: "message " + strconv.FormatInt(id, 10),
		Detail: fmt.Sprintf("%s → %s", before.State, m.State)})
	return m, nil
}

// actSchedule pauses, resumes or deletes a schedule; deleting returns nil.
func (s *Server) actSchedule(r *http.Request, id int64, action string) (*wxnotify.Schedule, error) {
	if s.ScheduleService == nil {
		return nil, unavailable("schedules")
	}
	before, err := s.ScheduleService.FindScheduleByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	var sc *wxnotify.Schedule
	switch action {
	case wxnotify.AuditSchedulePause:
		sc, err = s.ScheduleService.PauseSchedule(r.Context(), id)
	case wxnotify.AuditScheduleResume:
		sc, err = s.ScheduleService.ResumeSchedule(r.Context(), id)
	default:
		err = s.ScheduleService.DeleteSchedule(r.Context(), id)
	}
	if err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("%q (%s %s)", before.Name, before.Cron, before.Timezone)
	if sc != nil {
		detail += fmt.Sprintf(": %s → %s", before.State, sc.State)
	}
	s.audit(r, &wxnotify.AuditEntry{Action: action, AppID: before.AppID, Target: "schedule " + strconv.FormatInt(id, 10), Detail: detail})
	return sc, nil
}

// actTokenRefresh forces a refresh of the app's token; the answer holds its
// state, never the token.
func (s *Server) actTokenRefresh(r *http.Request, appID string) (*wxnotify.TokenStatus, error) {
	if err := wxnotify.CheckAppAccess(r.Context(), appID); err != nil {
		return nil, err
	}
	st, err := s.TokenService.Refresh(r.Context(), appID)
	if err != nil {
		return nil, err
	}
	s.audit(r, &wxnotify.AuditEntry{Action: wxnotify.AuditTokenRefresh, AppID: appID, Target: "app " + appID,
		Detail: fmt.Sprintf("fetch %d, expires %s", st.Fetches, st.ExpiresAt.UTC().Format("2006-01-02 15:04:05Z"))})
	return st, nil
}

// actTemplateSync re-reads the app's templates from WeChat.
func (s *Server) actTemplateSync(r *http.Request, appID string) (*TemplateSyncResult, error) {
	if s.TemplateService == nil {
		return nil, unavailable("templates")
	}
	added, removed, err := s.TemplateService.SyncTemplates(r.Context(), appID)
	if err != nil {
		return nil, err
	}
	s.audit(r, &wxnotify.AuditEntry{Action: wxnotify.AuditTemplateSync, AppID: appID, Target: "app " + appID,
		Detail: fmt.Sprintf("%d added, %d removed", added, removed)})
	return &TemplateSyncResult{Added: added, Removed: removed}, nil
}

// handleMessageRetry sends a failed, no_credit or expired message again.
func (s *Server) handleMessageRetry(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	m, err := s.actMessage(r, id, wxnotify.AuditMessageRetry)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// handleTokenRefresh forces a new access_token: 200 with the token's state.
func (s *Server) handleTokenRefresh(w http.ResponseWriter, r *http.Request) {
	st, err := s.actTokenRefresh(r, r.PathValue("appid"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// handleAuditList lists the audit log, newest first: ?action, ?appid,
// ?before (paging), ?limit.
func (s *Server) handleAuditList(w http.ResponseWriter, r *http.Request) {
	list, err := s.findAudit(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) findAudit(r *http.Request) (*wxnotify.AuditList, error) {
	if s.AuditService == nil {
		return nil, unavailable("the audit log")
	}
	q := r.URL.Query()
	f := wxnotify.AuditFilter{Action: q.Get("action"), AppID: q.Get("appid"), Limit: 100}
	if f.Action != "" && !contains(wxnotify.AuditActions, f.Action) {
		return nil, wxnotify.FieldErrorf("action", "unknown action %q", f.Action)
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, wxnotify.FieldErrorf("before", "want an audit entry id")
		}
		f.BeforeID = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > wxnotify.MaxAuditList {
			return nil, wxnotify.FieldErrorf("limit", "want 1 to %d", wxnotify.MaxAuditList)
		}
		f.Limit = n
	}
	entries, err := s.AuditService.FindAuditEntries(r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := &wxnotify.AuditList{Entries: entries}
	if out.Entries == nil {
		out.Entries = []*wxnotify.AuditEntry{}
	}
	if len(entries) == f.Limit {
		out.NextBefore = entries[len(entries)-1].ID
	}
	return out, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
