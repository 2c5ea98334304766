package http

import (
	"encoding/json"
	"fmt"
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

// DataValue is a keyword's value. It decodes from a plain string or from
// WeChat's own form {"value": "…"}, so a payload written for WeChat works
// unchanged.
type DataValue string

// UnmarshalJSON accepts "v" and {"value":"v"}.
func (v *DataValue) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = DataValue(s)
		return nil
	}
	var o struct {
		Value *string `json:"value"`
	}
	if err := json.Unmarshal(b, &o); err != nil || o.Value == nil {
		return fmt.Errorf(`want a string or {"value": string}`)
	}
	*v = DataValue(*o.Value)
	return nil
}

// MessageRequest is the body of POST /v1/messages.
type MessageRequest struct {
	AppID            string               `json:"appid"`
	OpenID           string               `json:"openid"`
	Kind             wxnotify.MessageKind `json:"kind,omitempty"`
	TemplateID       string               `json:"template_id"`
	Data             map[string]DataValue `json:"data"`
	Page             string               `json:"page,omitempty"`
	MiniprogramState string               `json:"miniprogram_state,omitempty"`
	Lang             string               `json:"lang,omitempty"`
	EmphasisKeyword  string               `json:"emphasis_keyword,omitempty"`
	SendAt           *time.Time           `json:"send_at,omitempty"`
	// TTL is how long to keep trying, as a Go duration ("90m", "24h").
	TTL           string `json:"ttl,omitempty"`
	WaitForCredit bool   `json:"wait_for_credit,omitempty"`
}

// Message builds the domain message from the request.
func (r *MessageRequest) Message(now time.Time) (*wxnotify.Message, error) {
	m := &wxnotify.Message{
		AppID: r.AppID, OpenID: r.OpenID, Kind: r.Kind, TemplateID: r.TemplateID, Page: r.Page,
		MiniprogramState: r.MiniprogramState, Lang: r.Lang, EmphasisKeyword: r.EmphasisKeyword,
		WaitForCredit: r.WaitForCredit,
	}
	if r.Data != nil {
		m.Data = make(map[string]string, len(r.Data))
		for k, v := range r.Data {
			m.Data[k] = string(v)
		}
	}
	if r.SendAt != nil {
		m.SendAt = *r.SendAt
	}
	if r.TTL != "" {
		ttl, err := time.ParseDuration(r.TTL)
		if err != nil || ttl <= 0 || ttl > wxnotify.MaxMessageTTL {
			return nil, wxnotify.FieldErrorf("ttl", "a duration such as \"30m\" or \"24h\", at most %s", wxnotify.MaxMessageTTL)
		}
		start := now
		if m.SendAt.After(now) {
			start = m.SendAt
		}
		m.ExpiresAt = start.Add(ttl)
	}
	return m, nil
}

// MessageResponse answers POST /v1/messages.
type MessageResponse struct {
	ID      int64                 `json:"id"`
	State   wxnotify.MessageState `json:"state"`
	Created bool                  `json:"created"` // false: an Idempotency-Key replay
}

// handleMessageCreate accepts one message: 202 once it is stored durably.
func (s *Server) handleMessageCreate(w http.ResponseWriter, r *http.Request) {
	var req MessageRequest
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
	writeJSON(w, http.StatusAccepted, &MessageResponse{ID: m.ID, State: m.State, Created: created})
}

// MessageDetail answers GET /v1/messages/{id}.
type MessageDetail struct {
	*wxnotify.Message
	AttemptList []*wxnotify.Attempt `json:"attempt_list"`
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
	writeJSON(w, http.StatusOK, &MessageDetail{Message: m, AttemptList: attempts})
}

// MessageList answers GET /v1/messages.
type MessageList struct {
	Messages []*wxnotify.Message `json:"messages"`
	// NextBefore pages on: pass it as ?before= for older messages.
	NextBefore int64 `json:"next_before,omitempty"`
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
	out := &MessageList{Messages: ms}
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
	m, err := s.MessageService.CancelMessage(r.Context(), id)
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
