package http

import (
	"cmp"
	"net/http"
	"strconv"

	"github.com/wxnotify/wxnotify"
)

func (s *Server) registerWebhookRoutes() {
	s.handle("POST /v1/webhooks", s.requireAPIKey(s.handleWebhookCreate))
	s.handle("GET /v1/webhooks", s.requireAPIKey(s.handleWebhookList))
	s.handle("DELETE /v1/webhooks/{id}", s.requireAPIKey(s.handleWebhookDelete))
	s.handle("GET /v1/webhooks/{id}/deliveries", s.requireAPIKey(s.handleWebhookDeliveries))
	s.handle("POST /v1/webhooks/{id}/deliveries/replay", s.requireAPIKey(s.handleWebhookReplay))
}

// handleWebhookDeliveries lists a webhook's undelivered events, newest
// first. Query: state (pending, dead), before (paging: next_before), limit.
func (s *Server) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	if s.WebhookService == nil {
		s.Error(w, r, unavailable("webhooks"))
		return
	}
	id, err := pathInt64(r, "webhook")
	if err != nil {
		s.Error(w, r, err)
		return
	}
	q := r.URL.Query()
	f := wxnotify.WebhookDeliveryFilter{State: q.Get("state")}
	if f.State != "" && f.State != wxnotify.WebhookDeliveryPending && f.State != wxnotify.WebhookDeliveryDead {
		s.Error(w, r, wxnotify.FieldErrorf("state", "unknown state %q: want pending or dead", f.State))
		return
	}
	if v := q.Get("before"); v != "" {
		if f.BeforeID, err = strconv.ParseInt(v, 10, 64); err != nil || f.BeforeID < 0 {
			s.Error(w, r, wxnotify.FieldErrorf("before", "want a delivery id"))
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit <= 0 || f.Limit > wxnotify.MaxWebhookDeliveryPage {
			s.Error(w, r, wxnotify.FieldErrorf("limit", "want 1 to %d", wxnotify.MaxWebhookDeliveryPage))
			return
		}
	}
	list, err := s.WebhookService.FindWebhookDeliveries(r.Context(), id, f)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	out := &wxnotify.WebhookDeliveryList{Deliveries: list}
	if out.Deliveries == nil {
		out.Deliveries = []*wxnotify.WebhookDelivery{}
	}
	if n := cmp.Or(f.Limit, wxnotify.DefaultWebhookDeliveryPage); len(list) == n {
		out.NextBefore = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// handleWebhookReplay sends a webhook's dead events again: those of the
// body's ids, or every one when the body is empty or has no ids.
func (s *Server) handleWebhookReplay(w http.ResponseWriter, r *http.Request) {
	if s.WebhookService == nil {
		s.Error(w, r, unavailable("webhooks"))
		return
	}
	id, err := pathInt64(r, "webhook")
	if err != nil {
		s.Error(w, r, err)
		return
	}
	var req wxnotify.WebhookReplayRequest
	if r.ContentLength != 0 {
		if err := s.decodeJSON(w, r, &req); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	n, err := s.WebhookService.ReplayWebhookDeliveries(r.Context(), id, req.IDs)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &wxnotify.WebhookReplayResponse{Replayed: n})
}

// handleWebhookCreate stores a webhook: 201 with its secret, shown once.
func (s *Server) handleWebhookCreate(w http.ResponseWriter, r *http.Request) {
	if s.WebhookService == nil {
		s.Error(w, r, unavailable("webhooks"))
		return
	}
	var req wxnotify.WebhookRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	wh := &wxnotify.Webhook{AppID: req.AppID, URL: req.URL, Secret: wxnotify.Secret(req.Secret)}
	if err := s.WebhookService.CreateWebhook(r.Context(), wh); err != nil {
		s.Error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, &wxnotify.WebhookCreated{
		ID: wh.ID, AppID: wh.AppID, URL: wh.URL, Secret: wh.Secret.Reveal(), CreatedAt: wh.CreatedAt,
	})
}

func (s *Server) handleWebhookList(w http.ResponseWriter, r *http.Request) {
	if s.WebhookService == nil {
		s.Error(w, r, unavailable("webhooks"))
		return
	}
	list, err := s.WebhookService.FindWebhooks(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if list == nil {
		list = []*wxnotify.Webhook{}
	}
	writeJSON(w, http.StatusOK, &wxnotify.WebhookList{Webhooks: list})
}

func (s *Server) handleWebhookDelete(w http.ResponseWriter, r *http.Request) {
	if s.WebhookService == nil {
		s.Error(w, r, unavailable("webhooks"))
		return
	}
	id, err := pathInt64(r, "webhook")
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.WebhookService.DeleteWebhook(r.Context(), id); err != nil {
		s.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
