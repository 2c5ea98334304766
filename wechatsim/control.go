package wechatsim

import (
	_ "embed"
	"encoding/json"
	htmltemplate "html/template"
	"net/http"
	"slices"
	"strings"
	"time"
)

//go:embed inbox.html
var inboxHTML string

var inboxPage = htmltemplate.Must(htmltemplate.New("inbox").Parse(inboxHTML))

// serveControl serves the /sim/ control API (see the package documentation). Control calls
// are never counted, delayed or faulted. Errors are HTTP 4xx with {"error": "..."}.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/sim"), "/")
	switch r.Method + " " + p {
	case "GET ", "GET /inbox.html":
		s.handleInboxPage(w, r)
	case "POST /apps":
		var a App
		if decodeControl(w, r, &a) {
			if a.AppID == "" || a.Secret == "" {
				controlError(w, http.StatusBadRequest, "appid and secret are required")
				return
			}
			s.AddApp(a)
			writeJSON(w, map[string]string{"appid": a.AppID})
		}
	case "GET /apps":
		var ids []string
		s.apps.Range(func(k, _ any) bool { ids = append(ids, k.(string)); return true })
		slices.Sort(ids)
		writeJSON(w, map[string][]string{"apps": ids})
	case "POST /login_codes", "POST /form_ids", "POST /prepay_ids":
		var req struct {
			AppID  string `json:"appid"`
			OpenID string `json:"openid"`
		}
		if !decodeControl(w, r, &req) || !s.knownApp(w, req.AppID) {
			return
		}
		switch p {
		case "/login_codes":
			writeJSON(w, map[string]string{"code": s.MintLoginCode(req.AppID, req.OpenID)})
		case "/form_ids":
			writeJSON(w, map[string]string{"form_id": s.MintFormID(req.AppID, req.OpenID)})
		default:
			writeJSON(w, map[string]string{"prepay_id": s.MintPrepayID(req.AppID, req.OpenID)})
		}
	case "POST /subscriptions":
		var req struct {
			AppID      string `json:"appid"`
			OpenID     string `json:"openid"`
			TemplateID string `json:"template_id"`
			Count      int    `json:"count"`
		}
		if !decodeControl(w, r, &req) || !s.knownApp(w, req.AppID) {
			return
		}
		if req.Count == 0 {
			req.Count = 1
		}
		s.GrantSubscribe(req.AppID, req.OpenID, req.TemplateID, req.Count)
		writeJSON(w, map[string]int{"remaining": s.Grants(req.AppID, req.OpenID, req.TemplateID)})
	case "POST /templates":
		var req struct {
			AppID    string    `json:"appid"`
			Title    string    `json:"title"`
			Keywords []Keyword `json:"keywords"`
			Legacy   bool      `json:"legacy"`
			Type     int       `json:"type"` // 3: long-term subscription; else one-time
		}
		if !decodeControl(w, r, &req) || !s.knownApp(w, req.AppID) {
			return
		}
		var id string
		if req.Legacy {
			names := make([]string, len(req.Keywords))
			for i, k := range req.Keywords {
				names[i] = k.Name
			}
			id = s.AddLegacyTemplateDirect(req.AppID, req.Title, names...)
		} else if req.Type == 3 {
			id = s.AddLongTermTemplateDirect(req.AppID, req.Title, req.Keywords...)
		} else {
			id = s.AddTemplateDirect(req.AppID, req.Title, req.Keywords...)
		}
		writeJSON(w, map[string]string{"template_id": id})
	case "GET /clock":
		writeJSON(w, map[string]time.Time{"now": s.Now()})
	case "POST /clock/advance":
		var req struct {
			Duration string  `json:"duration"`
			Seconds  float64 `json:"seconds"`
		}
		if !decodeControl(w, r, &req) {
			return
		}
		d := time.Duration(req.Seconds * float64(time.Second))
		if req.Duration != "" {
			var err error
			if d, err = time.ParseDuration(req.Duration); err != nil {
				controlError(w, http.StatusBadRequest, err.Error())
				return
			}
		}
		if !s.ownClock {
			controlError(w, http.StatusConflict, "the clock is Options.Now and cannot be advanced")
			return
		}
		s.Advance(d)
		writeJSON(w, map[string]time.Time{"now": s.Now()})
	case "POST /faults":
		var f Fault
		if decodeControl(w, r, &f) {
			s.InjectFault(f)
			writeJSON(w, map[string]bool{"ok": true})
		}
	case "DELETE /faults":
		s.ClearFaults()
		writeJSON(w, map[string]bool{"ok": true})
	case "POST /latency":
		var req struct {
			Fixed  string `json:"fixed"`
			Jitter string `json:"jitter"`
		}
		if !decodeControl(w, r, &req) {
			return
		}
		fixed, err1 := parseDuration(req.Fixed)
		jitter, err2 := parseDuration(req.Jitter)
		if err1 != nil || err2 != nil {
			controlError(w, http.StatusBadRequest, "fixed and jitter are Go durations like \"20ms\"")
			return
		}
		s.SetLatency(fixed, jitter)
		writeJSON(w, map[string]bool{"ok": true})
	case "POST /revoke":
		var req struct {
			AppID string `json:"appid"`
		}
		if decodeControl(w, r, &req) && s.knownApp(w, req.AppID) {
			s.RevokeTokens(req.AppID)
			writeJSON(w, map[string]bool{"ok": true})
		}
	case "GET /inbox":
		q := r.URL.Query()
		var list []Delivered
		if q.Get("openid") == "" {
			list = s.AllDelivered(q.Get("appid"))
		} else {
			list = s.Inbox(q.Get("appid"), q.Get("openid"))
		}
		if list == nil {
			list = []Delivered{}
		}
		writeJSON(w, list)
	case "GET /calls":
		q := r.URL.Query()
		writeJSON(w, map[string]int64{
			"count":     int64(s.Calls(q.Get("path"), q.Get("appid"))),
			"delivered": s.DeliveredCount(q.Get("appid")),
			"overlaps":  s.Overlaps(q.Get("appid")),
		})
	case "POST /events":
		var req struct {
			AppID string `json:"appid"`
			Event
		}
		if !decodeControl(w, r, &req) || !s.knownApp(w, req.AppID) {
			return
		}
		if err := s.PushEvent(r.Context(), req.AppID, req.Event); err != nil {
			controlError(w, http.StatusBadGateway, err.Error())
			return
		}
		writeJSON(w, map[string]bool{"ok": true})
	default:
		controlError(w, http.StatusNotFound, "no such control endpoint: "+r.Method+" "+r.URL.Path)
	}
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

func (s *Server) knownApp(w http.ResponseWriter, appid string) bool {
	if s.app(appid) == nil {
		controlError(w, http.StatusNotFound, "unknown appid "+appid)
		return false
	}
	return true
}

func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(v); err != nil {
		controlError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}

func controlError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// handleInboxPage renders the most recent deliveries of every app (?appid= narrows it).
func (s *Server) handleInboxPage(w http.ResponseWriter, r *http.Request) {
	const recent = 200
	appFilter := r.URL.Query().Get("appid")
	var list []Delivered
	var ids []string
	s.apps.Range(func(k, _ any) bool {
		ids = append(ids, k.(string))
		if appFilter == "" || appFilter == k.(string) {
			list = append(list, s.AllDelivered(k.(string))...)
		}
		return true
	})
	slices.Sort(ids)
	slices.SortStableFunc(list, func(x, y Delivered) int { return y.At.Compare(x.At) })
	total := len(list)
	list = list[:min(recent, len(list))]
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	inboxPage.Execute(w, map[string]any{
		"Now": s.Now(), "Apps": ids, "AppID": appFilter, "Total": total, "List": list,
		"Calls": s.Calls("", ""),
	})
}
