package http

import (
	"net/http"
	"time"

	"github.com/wxnotify/wxnotify"
)

func (s *Server) registerCreditRoutes() {
	s.handle("GET /v1/apps/{appid}/credits/stats", s.requireAPIKey(s.handleCreditStats))
	s.handle("POST /v1/apps/{appid}/credits", s.requireAPIKey(s.handleCreditAdd))
}

// handleCreditAdd registers legacy credits the backend holds for a user: a
// prepay_id comes to the backend from WeChat Pay, not to the page, so this
// is its intake (the page's is POST /mp/v1/apps/{appid}/form_ids).
func (s *Server) handleCreditAdd(w http.ResponseWriter, r *http.Request) {
	appID := r.PathValue("appid")
	if err := wxnotify.CheckAppAccess(r.Context(), appID); err != nil {
		s.Error(w, r, err)
		return
	}
	var req wxnotify.CreditAddRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	switch {
	case req.OpenID == "":
		s.Error(w, r, wxnotify.FieldErrorf("openid", "openid required"))
		return
	case req.Kind != wxnotify.CreditFormID && req.Kind != wxnotify.CreditPrepayID:
		s.Error(w, r, wxnotify.FieldErrorf("kind", "kind must be form_id or prepay_id (subscribe acceptances come from the page or WeChat's events)"))
		return
	}
	if err := validateCreditValues("values", string(req.Kind), req.Values); err != nil {
		s.Error(w, r, err)
		return
	}
	if s.CreditService == nil {
		s.Error(w, r, unavailable("credits"))
		return
	}
	n, err := s.CreditService.AddFormIDs(r.Context(), appID, req.OpenID, req.Kind, req.Values, "api")
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &wxnotify.CreditAddResponse{Added: n})
}

// handleCreditStats counts the app's usable credits for operators. Query:
// openid, template_id, kind, and expiring_within (a Go duration, "24h": only
// credits that expire within it).
func (s *Server) handleCreditStats(w http.ResponseWriter, r *http.Request) {
	appID := r.PathValue("appid")
	if err := wxnotify.CheckAppAccess(r.Context(), appID); err != nil {
		s.Error(w, r, err)
		return
	}
	if s.CreditService == nil {
		s.Error(w, r, unavailable("credits"))
		return
	}
	q := r.URL.Query()
	f := wxnotify.CreditFilter{AppID: &appID}
	if v := q.Get("openid"); v != "" {
		f.OpenID = &v
	}
	if v := q.Get("template_id"); v != "" {
		f.TemplateID = &v
	}
	if v := q.Get("kind"); v != "" {
		k := wxnotify.CreditKind(v)
		switch k {
		case wxnotify.CreditFormID, wxnotify.CreditPrepayID, wxnotify.CreditSubscribe, wxnotify.CreditLongTerm:
		default:
			s.Error(w, r, wxnotify.FieldErrorf("kind", "want form_id, prepay_id, subscribe or long_term"))
			return
		}
		f.Kind = &k
	}
	if v := q.Get("expiring_within"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			s.Error(w, r, wxnotify.FieldErrorf("expiring_within", "a positive duration such as \"24h\""))
			return
		}
		f.ExpiringWith = &d
	}
	stocks, err := s.CreditService.CreditStocks(r.Context(), f)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if stocks == nil {
		stocks = []*wxnotify.CreditStock{}
	}
	writeJSON(w, http.StatusOK, &wxnotify.CreditStats{Stocks: stocks})
}
