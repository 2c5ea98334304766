package wechatsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

type dataValue struct {
	Value string `json:"value"`
}

type subscribeRequest struct {
	ToUser           string               `json:"touser"`
	TemplateID       string               `json:"template_id"`
	Page             string               `json:"page"`
	Data             map[string]dataValue `json:"data"`
	MiniprogramState string               `json:"miniprogram_state"`
	Lang             string               `json:"lang"`
}

// checkPage answers 41030 unless the app allows page; an empty page (no jump) is always
// allowed. The query string and a leading "/" are ignored.
func (a *app) pageOK(page string) bool {
	if a.pages == nil || page == "" {
		return true
	}
	p, _, _ := strings.Cut(page, "?")
	return a.pages[strings.TrimPrefix(p, "/")] || a.pages[p]
}

// handleSubscribeSend serves POST /cgi-bin/message/subscribe/send (subscribeMessage.send).
// After the access_token checks, in order:
//
//   - 47001 the body is not the expected JSON (data values must be strings);
//   - 40003 touser is empty;
//   - 40037 template_id is not in the app's private library;
//   - 41030 page is not one of App.Pages (when set);
//   - 47003 miniprogram_state is not developer, trial or formal, or lang is not zh_CN, en_US,
//     zh_HK or zh_TW (both may be omitted);
//   - 47003 a template keyword is missing or empty ("argument invalid! data.thing1.value is
//     emtpy", WeChat's spelling) or breaks its rule ("argument invalid! data.thing1.value
//     invalid"), keywords checked in template order; keys the template lacks are ignored;
//   - 45009 more than the daily send quota;
//   - 43101 openid has no acceptance of this template left (GrantSubscribe); one is consumed
//     on success, except for a long-term template (type 3), which lasts until RevokeSubscribe.
//
// Success: {"errcode":0,"errmsg":"ok","msgid":N}, N a JSON number above 2^53, and the message
// is in the user's Inbox.
func (s *Server) handleSubscribeSend(w http.ResponseWriter, r *http.Request, a *app, body []byte) {
	var req subscribeRequest
	if err := decodeSubscribe(body, &req); err != nil {
		writeErr(w, ctJSON, 47001, "")
		return
	}
	if req.ToUser == "" {
		writeErr(w, ctJSON, 40003, "")
		return
	}
	t := (*a.templates.Load())[req.TemplateID]
	if t == nil {
		writeErr(w, ctJSON, 40037, "")
		return
	}
	if !a.pageOK(req.Page) {
		writeErr(w, ctJSON, 41030, "")
		return
	}
	switch req.MiniprogramState {
	case "", "developer", "trial", "formal":
	default:
		writeErr(w, ctJSON, 47003, "argument invalid! miniprogram_state invalid")
		return
	}
	switch req.Lang {
	case "", "zh_CN", "en_US", "zh_HK", "zh_TW":
	default:
		writeErr(w, ctJSON, 47003, "argument invalid! lang invalid")
		return
	}
	data := make(map[string]string, len(t.Keywords))
	for _, k := range t.Keywords {
		v := req.Data[k.Key].Value
		if v == "" {
			writeErr(w, ctJSON, 47003, "argument invalid! data."+k.Key+".value is emtpy")
			return
		}
		if !ValidValue(t.rules[k.Key], v) {
			writeErr(w, ctJSON, 47003, "argument invalid! data."+k.Key+".value invalid")
			return
		}
		data[k.Key] = v
	}
	now := s.Now()
	limit := a.cfg.DailySendQuota
	if limit <= 0 {
		limit = DefaultDailySendQuota
	}
	if !a.sendQuota.take(dayOf(now), limit) {
		writeErr(w, ctJSON, 45009, "")
		return
	}
	id := s.msgID.Add(1)
	d := Delivered{
		Kind: "subscribe", AppID: a.cfg.AppID, OpenID: req.ToUser, MsgID: id,
		TemplateID: req.TemplateID, Page: req.Page, Data: data,
		State: req.MiniprogramState, Lang: req.Lang, At: now,
	}
	sh := a.shard(req.ToUser)
	sh.mu.Lock()
	u := sh.user(req.ToUser)
	if u.grants[req.TemplateID] <= 0 {
		sh.mu.Unlock()
		writeErr(w, ctJSON, 43101, "")
		return
	}
	if t.Type != 3 { // a long-term subscription is not used up
		u.grants[req.TemplateID]--
	}
	u.add(d, s.inboxLimit)
	sh.mu.Unlock()
	a.delivered.Add(1)

	var buf [64]byte
	b := append(buf[:0], `{"errcode":0,"errmsg":"ok","msgid":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, '}')
	writeRaw(w, ctJSON, b)
}

// mockFormID is what the developer tools hand out instead of a real form_id.
const mockFormID = "the formId is a mock one"

// handleTemplateSend serves POST /cgi-bin/message/wxopen/template/send (the legacy
// templateMessage.send) with {touser, template_id, page, form_id, data, emphasis_keyword}.
// After the access_token checks, in order: 47001 malformed body; 40003 empty touser; 40037
// template_id not in the app's legacy templates; 41030 page not allowed; 41028 form_id empty,
// mock ("the formId is a mock one"), unknown, expired or minted for another openid; 41029
// form_id used up (a form_id allows 1 message, a prepay_id PrepayIDUses); 45009 over the daily
// quota. Data is recorded as given. Success: {"errcode":0,"errmsg":"ok"}.
func (s *Server) handleTemplateSend(w http.ResponseWriter, r *http.Request, a *app, body []byte) {
	var req struct {
		ToUser          string               `json:"touser"`
		TemplateID      string               `json:"template_id"`
		Page            string               `json:"page"`
		FormID          string               `json:"form_id"`
		Data            map[string]dataValue `json:"data"`
		EmphasisKeyword string               `json:"emphasis_keyword"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeErr(w, ctJSON, 47001, "")
		return
	}
	if req.ToUser == "" {
		writeErr(w, ctJSON, 40003, "")
		return
	}
	if (*a.legacy.Load())[req.TemplateID] == nil {
		writeErr(w, ctJSON, 40037, "")
		return
	}
	if !a.pageOK(req.Page) {
		writeErr(w, ctJSON, 41030, "")
		return
	}
	now := s.Now()
	a.mu.Lock()
	c := a.credits[req.FormID]
	code := 0
	switch {
	case req.FormID == "" || req.FormID == mockFormID || c == nil:
		code = 41028
	case !now.Before(c.expires) || c.openid != req.ToUser:
		code = 41028
	case c.left <= 0:
		code = 41029
	}
	if code == 0 {
		limit := a.cfg.DailySendQuota
		if limit <= 0 {
			limit = DefaultDailyTemplateQuota
		}
		if !a.legacyQuota.take(dayOf(now), limit) {
			code = 45009
		} else {
			c.left--
		}
	}
	a.mu.Unlock()
	if code != 0 {
		writeErr(w, ctJSON, code, "")
		return
	}
	data := make(map[string]string, len(req.Data))
	for k, v := range req.Data {
		data[k] = v.Value
	}
	d := Delivered{
		Kind: "template", AppID: a.cfg.AppID, OpenID: req.ToUser, MsgID: s.msgID.Add(1),
		TemplateID: req.TemplateID, Page: req.Page, Data: data, FormID: req.FormID,
		EmphasisKeyword: req.EmphasisKeyword, At: now,
	}
	sh := a.shard(req.ToUser)
	sh.mu.Lock()
	sh.user(req.ToUser).add(d, s.inboxLimit)
	sh.mu.Unlock()
	a.delivered.Add(1)
	writeRaw(w, ctJSON, okBody)
}
