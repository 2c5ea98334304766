package http

import (
	"net/http"

	"github.com/wxnotify/wxnotify"
)

// The dashboard's actions and the views they act on: each action runs the
// act* method of its API route (action.go), so it is audited the same way,
// with the dashboard and the operator's address as the actor. The POSTs are
// CSRF-safe as every dashboard POST (dashboardPost).

func (s *Server) registerDashboardActionRoutes() {
	get := func(pattern string, h http.HandlerFunc) {
		s.handle("GET /dashboard/api/"+pattern, s.requireDashboardSession(h))
	}
	post := func(pattern string, h http.HandlerFunc) {
		s.handle("POST /dashboard/api/"+pattern, s.requireDashboardSession(s.dashboardPost(h)))
	}
	get("history", s.handleDashboardHistory)
	get("audit", s.handleDashboardAudit)
	get("schedules", s.handleDashboardSchedules)
	get("jobs", s.handleJobList)
	get("templates", s.handleDashboardTemplates)
	post("messages/{id}/cancel", s.handleMessageCancel)
	post("messages/{id}/retry", s.handleMessageRetry)
	post("schedules/{id}/pause", s.handleSchedulePause)
	post("schedules/{id}/resume", s.handleScheduleResume)
	post("schedules/{id}/delete", s.handleScheduleDelete)
	post("apps/{appid}/token/refresh", s.handleTokenRefresh)
	post("apps/{appid}/templates/sync", s.handleTemplateSync)
}

// handleDashboardHistory returns the charts' history: ?range=1h (default),
// 24h or 30d.
func (s *Server) handleDashboardHistory(w http.ResponseWriter, r *http.Request) {
	if s.HistoryService == nil {
		s.Error(w, r, unavailable("the history"))
		return
	}
	rng := r.URL.Query().Get("range")
	if rng == "" {
		rng = wxnotify.HistoryLastHour
	}
	h, err := s.HistoryService.FindHistory(r.Context(), rng)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) handleDashboardAudit(w http.ResponseWriter, r *http.Request) {
	list, err := s.findAudit(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleDashboardSchedules(w http.ResponseWriter, r *http.Request) {
	s.handleScheduleList(w, r)
}

// DashboardTemplate is a template as the dashboard names it: by alias and
// title, its id beside them.
type DashboardTemplate struct {
	AppID      string               `json:"appid"`
	TemplateID string               `json:"template_id"`
	Kind       wxnotify.MessageKind `json:"kind"`
	Title      string               `json:"title"`
	Aliases    []string             `json:"aliases"`
	Deleted    bool                 `json:"deleted"`
}

// handleDashboardTemplates lists every app's templates (deleted ones
// included, so old messages keep their names).
func (s *Server) handleDashboardTemplates(w http.ResponseWriter, r *http.Request) {
	if s.AppService == nil || s.TemplateService == nil {
		s.Error(w, r, unavailable("templates"))
		return
	}
	apps, err := s.AppService.FindApps(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	out := []*DashboardTemplate{}
	for _, a := range apps {
		list, err := s.TemplateService.FindTemplates(r.Context(), a.AppID)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		for _, t := range list {
			aliases := t.Aliases
			if aliases == nil {
				aliases = []string{}
			}
			out = append(out, &DashboardTemplate{AppID: t.AppID, TemplateID: t.TemplateID, Kind: t.Kind, Title: t.Title, Aliases: aliases, Deleted: t.Deleted})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"templates": out})
}
