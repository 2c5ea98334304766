package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/wxnotify/wxnotify"
)

func (s *Server) registerMessageRoutes() {
	s.handle("POST /v1/messages", s.requireAPIKey(s.handleMessageCreate))
	s.handle("GET /v1/messages", s.requireAPIKey(s.handleMessageList))
	s.handle("GET /v1/messages/{id}", s.requireAPIKey(s.handleMessageGet))
	s.handle("POST /v1/messages/{id}/cancel", s.requireAPIKey(s.handleMessageCancel))
}

// handleMessageCreate accepts one message: 202 once it is stored durably.
func (s *Server) handleMessageCreate(w http.ResponseWriter, r *http.Request) {
	var req wxnotify.MessageRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	m, err := req.Message(time.Now())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	m.IdempotencyKey = r.Header.Get("Idempotency-Key")
	created, err := s.MessageService.Enqueue(r.Context(), m)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if !created {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Location", "/v1/messages/"+strconv.FormatInt(m.ID, 10))
	writeJSON(w, http.StatusAccepted, &wxnotify.MessageResponse{ID: m.ID, State: m.State, Created: created})
}

func (s *Server) handleMessageGet(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	m, attempts, err := s.MessageService.FindMessageByID(r.Context(), id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if attempts == nil {
		attempts = []*wxnotify.Attempt{}
	}
	writeJSON(w, http.StatusOK, &wxnotify.MessageDetail{Message: m, AttemptList: attempts})
}

func (s *Server) handleMessageList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f wxnotify.MessageFilter
	if v := q.Get("appid"); v != "" {
		f.AppID = &v
	}
	if v := q.Get("openid"); v != "" {
		f.OpenID = &v
	}
	if v := q.Get("state"); v != "" {
		st := wxnotify.MessageState(v)
		if !st.Valid() {
			s.Error(w, r, wxnotify.FieldErrorf("state", "unknown state %q: want one of %v", v, wxnotify.MessageStates()))
			return
		}
		f.State = &st
	}
	for name, dst := range map[string]*int64{"before": &f.AfterID} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				s.Error(w, r, wxnotify.FieldErrorf(name, "want a message id"))
				return
			}
			*dst = n
		}
	}
	if v := q.Get("broadcast_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.Error(w, r, wxnotify.FieldErrorf("broadcast_id", "want a broadcast id"))
			return
		}
		f.BroadcastID = &n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			s.Error(w, r, wxnotify.FieldErrorf("limit", "want 1 to 1000"))
			return
		}
		f.Limit = n
	}
	ms, err := s.MessageService.FindMessages(r.Context(), f)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	out := &wxnotify.MessageList{Messages: ms}
	if out.Messages == nil {
		out.Messages = []*wxnotify.Message{}
	}
	if f.Limit > 0 && len(ms) == f.Limit {
		out.NextBefore = ms[len(ms)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleMessageCancel(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	m, err := s.actMessage(r, id, wxnotify.AuditMessageCancel)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, wxnotify.FieldErrorf("id", "want a message id")
	}
	return id, nil
}
