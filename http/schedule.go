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

// ScheduleRequest is the body of POST /v1/schedules.
type ScheduleRequest struct {
	AppID string `json:"appid"`
	Name  string `json:"name"`
	// Cron is "0 9 * * *" (5 fields) or a descriptor (@daily, @every 1h).
	Cron string `json:"cron"`
	// Timezone is an IANA zone, e.g. "Asia/Shanghai"; default UTC.
	Timezone string                 `json:"timezone,omitempty"`
	Message  ScheduleMessageRequest `json:"message"`
}

// ScheduleMessageRequest is what each occurrence sends: the fields of a
// message, to one openid or a list of openids (not both).
type ScheduleMessageRequest struct {
	OpenID           string               `json:"openid,omitempty"`
	OpenIDs          []string             `json:"openids,omitempty"`
	Kind             wxnotify.MessageKind `json:"kind,omitempty"`
	TemplateID       string               `json:"template_id"`
	Data             map[string]DataValue `json:"data"`
	Page             string               `json:"page,omitempty"`
	MiniprogramState string               `json:"miniprogram_state,omitempty"`
	Lang             string               `json:"lang,omitempty"`
	EmphasisKeyword  string               `json:"emphasis_keyword,omitempty"`
	TTL              string               `json:"ttl,omitempty"`
	WaitForCredit    bool                 `json:"wait_for_credit,omitempty"`
}

// Schedule builds the domain schedule from the request.
func (r *ScheduleRequest) Schedule() (*wxnotify.Schedule, error) {
	m := r.Message
	openIDs := m.OpenIDs
	if m.OpenID != "" {
		if len(openIDs) > 0 {
			return nil, wxnotify.FieldErrorf("message.openid", "give openid or openids, not both")
		}
		openIDs = []string{m.OpenID}
	}
	sc := &wxnotify.Schedule{
		AppID: r.AppID, Name: r.Name, Cron: r.Cron, Timezone: r.Timezone,
		Message: wxnotify.ScheduleMessage{
			OpenIDs: openIDs, Kind: m.Kind, TemplateID: m.TemplateID, Page: m.Page,
			MiniprogramState: m.MiniprogramState, Lang: m.Lang, EmphasisKeyword: m.EmphasisKeyword,
			TTL: m.TTL, WaitForCredit: m.WaitForCredit,
		},
	}
	if m.Data != nil {
		sc.Message.Data = make(map[string]string, len(m.Data))
		for k, v := range m.Data {
			sc.Message.Data[k] = string(v)
		}
	}
	return sc, nil
}

// ScheduleList answers GET /v1/schedules.
type ScheduleList struct {
	Schedules []*wxnotify.Schedule `json:"schedules"`
}

// handleScheduleCreate stores a schedule: 201 with it, next_run_at set.
func (s *Server) handleScheduleCreate(w http.ResponseWriter, r *http.Request) {
	if s.ScheduleService == nil {
		s.Error(w, r, unavailable("schedules"))
		return
	}
	var req ScheduleRequest
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
	writeJSON(w, http.StatusOK, &ScheduleList{Schedules: list})
}

func (s *Server) handleScheduleGet(w http.ResponseWriter, r *http.Request) {
	s.scheduleAction(w, r, func(ctx context.Context, svc wxnotify.ScheduleService, id int64) (*wxnotify.Schedule, error) {
		return svc.FindScheduleByID(ctx, id)
	})
}

func (s *Server) handleSchedulePause(w http.ResponseWriter, r *http.Request) {
	s.scheduleAction(w, r, func(ctx context.Context, svc wxnotify.ScheduleService, id int64) (*wxnotify.Schedule, error) {
		return svc.PauseSchedule(ctx, id)
	})
}

func (s *Server) handleScheduleResume(w http.ResponseWriter, r *http.Request) {
	s.scheduleAction(w, r, func(ctx context.Context, svc wxnotify.ScheduleService, id int64) (*wxnotify.Schedule, error) {
		return svc.ResumeSchedule(ctx, id)
	})
}

func (s *Server) handleScheduleDelete(w http.ResponseWriter, r *http.Request) {
	s.scheduleAction(w, r, func(ctx context.Context, svc wxnotify.ScheduleService, id int64) (*wxnotify.Schedule, error) {
		return nil, svc.DeleteSchedule(ctx, id)
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
