package http

import (
	"net/http"
	"time"

	"github.com/wxnotify/wxnotify"
)

func (s *Server) registerCreditRoutes() {
	s.handle("GET /v1/apps/{appid}/credits/stats", s.requireAPIKey(s.handleCreditStats))
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
