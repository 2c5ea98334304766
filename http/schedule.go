package http

import (
	"context"
	"net/http"

	"github.com/wxnotify/wxnotify"
)

func (s *Server) registerScheduleRoutes() {
	s.handle("POST /v1/schedules", s.requireAPIKey(s.handleScheduleCreate))
	s.handle("GET /v1/schedules", s.requireAPIKey(s.handleScheduleList))
	s.handle("GET /v1/schedules/{id}", s.requireAPIKey(s.handleScheduleGet))
	s.handle("POST /v1/schedules/{id}/pause", s.requireAPIKey(s.handleSchedulePause))
	s.handle("POST /v1/schedules/{id}/resume", s.requireAPIKey(s.handleScheduleResume))
	s.handle("DELETE /v1/schedules/{id}", s.requireAPIKey(s.handleScheduleDelete))
}

// handleScheduleCreate stores a schedule: 201 with it, next_run_at set.
func (s *Server) handleScheduleCreate(w http.ResponseWriter, r *http.Request) {
	if s.ScheduleService == nil {
		s.Error(w, r, unavailable("schedules"))
		return
	}
	var req wxnotify.ScheduleRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	sc, err := req.Schedule()
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.ScheduleService.CreateSchedule(r.Context(), sc); err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, sc)
}

func (s *Server) handleScheduleList(w http.ResponseWriter, r *http.Request) {
	if s.ScheduleService == nil {
		s.Error(w, r, unavailable("schedules"))
		return
	}
	list, err := s.ScheduleService.FindSchedules(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if list == nil {
		list = []*wxnotify.Schedule{}
	}
	writeJSON(w, http.StatusOK, &wxnotify.ScheduleList{Schedules: list})
}

func (s *Server) handleScheduleGet(w http.ResponseWriter, r *http.Request) {
	s.scheduleAction(w, r, func(ctx context.Context, svc wxnotify.ScheduleService, id int64) (*wxnotify.Schedule, error) {
		return svc.FindScheduleByID(ctx, id)
	})
}

func (s *Server) handleSchedulePause(w http.ResponseWriter, r *http.Request) {
	s.scheduleAction(w, r, func(_ context.Context, _ wxnotify.ScheduleService, id int64) (*wxnotify.Schedule, error) {
		return s.actSchedule(r, id, wxnotify.AuditSchedulePause)
	})
}

func (s *Server) handleScheduleResume(w http.ResponseWriter, r *http.Request) {
	s.scheduleAction(w, r, func(_ context.Context, _ wxnotify.ScheduleService, id int64) (*wxnotify.Schedule, error) {
		return s.actSchedule(r, id, wxnotify.AuditScheduleResume)
	})
}

func (s *Server) handleScheduleDelete(w http.ResponseWriter, r *http.Request) {
	s.scheduleAction(w, r, func(_ context.Context, _ wxnotify.ScheduleService, id int64) (*wxnotify.Schedule, error) {
		return s.actSchedule(r, id, wxnotify.AuditScheduleDelete)
	})
}

// scheduleAction parses the id, makes one call, and answers the schedule,
// or 204 when the call returns none.
func (s *Server) scheduleAction(w http.ResponseWriter, r *http.Request, call func(context.Context, wxnotify.ScheduleService, int64) (*wxnotify.Schedule, error)) {
	if s.ScheduleService == nil {
		s.Error(w, r, unavailable("schedules"))
		return
	}
	id, err := pathInt64(r, "schedule")
	if err != nil {
		s.Error(w, r, err)
		return
	}
	sc, err := call(r.Context(), s.ScheduleService, id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if sc == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, sc)
}
