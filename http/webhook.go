package http

import (
	"net/http"

	"github.com/wxnotify/wxnotify"
)

func (s *Server) registerWebhookRoutes() {
	s.handle("POST /v1/webhooks", s.requireAPIKey(s.handleWebhookCreate))
	s.handle("GET /v1/webhooks", s.requireAPIKey(s.handleWebhookList))
	s.handle("DELETE /v1/webhooks/{id}", s.requireAPIKey(s.handleWebhookDelete))
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
