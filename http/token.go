package http

import (
	"net/http"
	"time"

	"github.com/wxnotify/wxnotify"
)

func (s *Server) registerTokenRoutes() {
	s.handle("GET /v1/apps/{appid}/access_token", s.requireAPIKey(s.handleAccessTokenGet))
	s.handle("POST /v1/apps/{appid}/access_token/invalidate", s.requireAPIKey(s.handleAccessTokenInvalidate))
	s.handle("GET /v1/apps/{appid}/token_status", s.requireAPIKey(s.handleTokenStatus))
}

// handleAccessTokenGet serves a valid token to another of the team's services.
func (s *Server) handleAccessTokenGet(w http.ResponseWriter, r *http.Request) {
	appID := r.PathValue("appid")
	if err := wxnotify.CheckAppAccess(r.Context(), appID); err != nil {
		s.Error(w, r, err)
		return
	}
	t, err := s.TokenService.Token(r.Context(), appID)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeToken(w, t)
}

// handleAccessTokenInvalidate lets another service report a rejected token;
// it gets the replacement back. A burst of reports causes one refresh.
func (s *Server) handleAccessTokenInvalidate(w http.ResponseWriter, r *http.Request) {
	appID := r.PathValue("appid")
	if err := wxnotify.CheckAppAccess(r.Context(), appID); err != nil {
		s.Error(w, r, err)
		return
	}
	var req wxnotify.AccessTokenInvalidateRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	if req.AccessToken == "" {
		s.Error(w, r, wxnotify.FieldErrorf("access_token", "access_token required: the token WeChat rejected"))
		return
	}
	t, err := s.TokenService.Invalidate(r.Context(), appID, wxnotify.Secret(req.AccessToken))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeToken(w, t)
}

func (s *Server) handleTokenStatus(w http.ResponseWriter, r *http.Request) {
	appID := r.PathValue("appid")
	if err := wxnotify.CheckAppAccess(r.Context(), appID); err != nil {
		s.Error(w, r, err)
		return
	}
	st, err := s.TokenService.Status(r.Context(), appID)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func writeToken(w http.ResponseWriter, t *wxnotify.AccessToken) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, &wxnotify.AccessTokenResponse{
		AppID:       t.AppID,
		AccessToken: t.Value.Reveal(),
		ExpiresIn:   int64(time.Until(t.ExpiresAt).Seconds()),
		ExpiresAt:   t.ExpiresAt,
	})
}
