package wechatsim

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// API paths the simulator serves, as on api.weixin.qq.com.
const (
	PathToken                  = "/cgi-bin/token"
	PathStableToken            = "/cgi-bin/stable_token"
	PathCode2Session           = "/sns/jscode2session"
	PathSubscribeSend          = "/cgi-bin/message/subscribe/send"
	PathTemplateSend           = "/cgi-bin/message/wxopen/template/send"
	PathGetCategory            = "/wxaapi/newtmpl/getcategory"
	PathGetPubTemplateTitles   = "/wxaapi/newtmpl/getpubtemplatetitles"
	PathGetPubTemplateKeywords = "/wxaapi/newtmpl/getpubtemplatekeywords"
	PathAddTemplate            = "/wxaapi/newtmpl/addtemplate"
	PathDelTemplate            = "/wxaapi/newtmpl/deltemplate"
	PathGetTemplate            = "/wxaapi/newtmpl/gettemplate"
	PathLibraryList            = "/cgi-bin/wxopen/template/library/list"
	PathLibraryGet             = "/cgi-bin/wxopen/template/library/get"
	PathLegacyAdd              = "/cgi-bin/wxopen/template/add"
	PathLegacyList             = "/cgi-bin/wxopen/template/list"
	PathLegacyDel              = "/cgi-bin/wxopen/template/del"
)

type route struct {
	path string
	post bool // POST only: any other method is 43002
	auth bool // needs access_token
}

const (
	rToken = iota
	rStableToken
	rCode2Session
	rSubscribeSend
	rTemplateSend
	rGetCategory
	rGetPubTitles
	rGetPubKeywords
	rAddTemplate
	rDelTemplate
	rGetTemplate
	rLibraryList
	rLibraryGet
	rLegacyAdd
	rLegacyList
	rLegacyDel
	numPaths
)

var routes = [numPaths]route{
	rToken:          {path: PathToken},
	rStableToken:    {path: PathStableToken, post: true},
	rCode2Session:   {path: PathCode2Session},
	rSubscribeSend:  {path: PathSubscribeSend, post: true, auth: true},
	rTemplateSend:   {path: PathTemplateSend, post: true, auth: true},
	rGetCategory:    {path: PathGetCategory, auth: true},
	rGetPubTitles:   {path: PathGetPubTemplateTitles, auth: true},
	rGetPubKeywords: {path: PathGetPubTemplateKeywords, auth: true},
	rAddTemplate:    {path: PathAddTemplate, post: true, auth: true},
	rDelTemplate:    {path: PathDelTemplate, post: true, auth: true},
	rGetTemplate:    {path: PathGetTemplate, auth: true},
	rLibraryList:    {path: PathLibraryList, post: true, auth: true},
	rLibraryGet:     {path: PathLibraryGet, post: true, auth: true},
	rLegacyAdd:      {path: PathLegacyAdd, post: true, auth: true},
	rLegacyList:     {path: PathLegacyList, post: true, auth: true},
	rLegacyDel:      {path: PathLegacyDel, post: true, auth: true},
}

var pathIndex = func() map[string]int {
	m := make(map[string]int, numPaths)
	for i, r := range routes {
		m[r.path] = i
	}
	return m
}()

// Content types. WeChat answers its APIs with JSON labelled "application/json;
// encoding=utf-8" (/cgi-bin/token included), but /sns/jscode2session labels the same JSON
// text/plain; clients must not rely on the label. Sources: community threads
// https://developers.weixin.qq.com/community/personal/oCJUsw8wb0d9MRozu3QoQ1h0yNY4/question
// (jscode2session text/plain, cgi-bin/token application/json) and
// https://developers.weixin.qq.com/community/develop/doc/000cc48ef88200306649072045b000
// (the header as sent); the reference itself does not say.
const (
	ctJSON  = "application/json; encoding=utf-8"
	ctPlain = "text/plain"
)

var (
	hdrJSON  = []string{ctJSON}
	hdrPlain = []string{ctPlain}
)

var errmsgs = map[int]string{
	-1:     "system error",
	40001:  "invalid credential, access_token is invalid or not latest",
	40002:  "invalid grant_type",
	40003:  "invalid openid",
	40014:  "invalid access_token",
	40013:  "invalid appid",
	40029:  "invalid code",
	40037:  "invalid template_id",
	40066:  "invalid url",
	40125:  "invalid appsecret",
	40163:  "code been used",
	41001:  "access_token missing",
	41002:  "appid missing",
	41004:  "appsecret missing",
	41008:  "missing code",
	41028:  "invalid form id",
	41029:  "form id used count reach limit",
	41030:  "invalid page",
	42001:  "access_token expired",
	43002:  "require POST method",
	43101:  "user refuse to accept the msg",
	44002:  "empty post data",
	45009:  "reach max api daily quota limit",
	45011:  "api minute-quota reach limit, must slower, retry next minute",
	43108:  "Cannot make concurrent calls to the same OpenID, please try again",
	47001:  "data format error",
	47003:  "argument invalid!",
	48001:  "api unauthorized",
	200012: "private template count reach limit",
	200014: "invalid tid",
	200016: "invalid start",
	200017: "invalid limit",
	200018: "missing ids",
	200019: "invalid ids",
	200020: "invalid kidList",
	200021: "invalid sceneDesc",
}

// ErrMsg returns the errmsg WeChat pairs with code (without the trailing " rid: ...").
func ErrMsg(code int) string {
	if m, ok := errmsgs[code]; ok {
		return m
	}
	return "system error"
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxBody is the largest request body read; larger bodies are cut and fail to parse (47001).
const maxBody = 1 << 20

// ServeHTTP routes API calls, and control calls under /sim/. An unknown path outside /sim/
// is answered like WeChat does, HTTP 200 with errcode 40066 "invalid url" (see
// docs/wechat.md, "Errcodes"), and is not counted.
//
// Every API call is, in order: attributed to an app (by access_token, or by the appid
// parameter or field) and counted for Calls; matched against injected faults; delayed by the
// configured latency; refused with 43002 if the endpoint is POST-only and the method is not
// POST; for endpoints that need one, refused when access_token is missing (41001), unknown,
// malformed, revoked or superseded (40001) or expired (42001); for POST-only endpoints,
// refused with 44002 "empty post data" when the body is empty; for the two sends, refused
// with 40003 when touser is not a user of the app (knows); then handled.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/sim" || strings.HasPrefix(p, "/sim/") {
		s.serveControl(w, r)
		return
	}
	idx, ok := pathIndex[p]
	if !ok {
		writeErr(w, ctJSON, 40066, "")
		return
	}
	rt := &routes[idx]

	var body []byte
	if r.Method == http.MethodPost {
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		defer bufPool.Put(buf)
		buf.ReadFrom(io.LimitReader(r.Body, maxBody))
		body = buf.Bytes()
	}

	var a *app
	var tok *token
	var tokenValue string
	switch {
	case rt.auth:
		tokenValue = queryValue(r.URL.RawQuery, "access_token")
		if v, ok := s.tokens.Load(tokenValue); ok && tokenValue != "" {
			tok = v.(*token)
			a = tok.app
		}
	case idx == rStableToken:
		var id struct {
			AppID string `json:"appid"`
		}
		json.Unmarshal(body, &id)
		a = s.app(id.AppID)
	default:
		a = s.app(queryValue(r.URL.RawQuery, "appid"))
	}
	counted := a
	if counted == nil {
		counted = &s.anon
	}
	counted.calls[idx].Add(1)

	if s.faultN.Load() > 0 {
		appid := ""
		if a != nil {
			appid = a.cfg.AppID
		}
		if s.applyFault(w, r, p, appid) {
			return
		}
	}
	if (idx == rSubscribeSend || idx == rTemplateSend) && a != nil && tok != nil && tok.check(s.Now()) == 0 {
		// WeChat refuses a send to an openid while another to it is in
		// flight (43108, "Cannot make concurrent calls to the same OpenID");
		// a call with a bad token is refused for that first.
		if to := touserOf(body); to != "" {
			defer a.leave(to)
			if !a.enter(to) {
				a.overlaps.Add(1)
				writeErr(w, ctJSON, 43108, "")
				return
			}
		}
	}
	s.wait(r.Context())

	if rt.post && r.Method != http.MethodPost {
		writeErr(w, ctJSON, 43002, "")
		return
	}
	if rt.auth {
		code := 0
		switch {
		case tokenValue == "":
			code = 41001
		case tok == nil:
			code = 40001
		default:
			code = tok.check(s.Now())
		}
		if code != 0 {
			writeErr(w, ctJSON, code, "")
			return
		}
	}
	if rt.post && len(body) == 0 {
		writeErr(w, ctJSON, 44002, "")
		return
	}
	if (idx == rSubscribeSend || idx == rTemplateSend) && !a.knows(body) {
		writeErr(w, ctJSON, 40003, "")
		return
	}

	switch idx {
	case rToken:
		s.handleToken(w, r, a)
	case rStableToken:
		s.handleStableToken(w, r, a, body)
	case rCode2Session:
		s.handleCode2Session(w, r)
	case rSubscribeSend:
		s.handleSubscribeSend(w, r, a, body)
	case rTemplateSend:
		s.handleTemplateSend(w, r, a, body)
	case rGetCategory:
		s.handleGetCategory(w, r, a)
	case rGetPubTitles:
		s.handleGetPubTitles(w, r, a)
	case rGetPubKeywords:
		s.handleGetPubKeywords(w, r, a)
	case rAddTemplate:
		s.handleAddTemplate(w, r, a, body)
	case rDelTemplate:
		s.handleDelTemplate(w, r, a, body)
	case rGetTemplate:
		s.handleGetTemplate(w, r, a)
	case rLibraryList:
		s.handleLibraryList(w, r, a, body)
	case rLibraryGet:
		s.handleLibraryGet(w, r, a, body)
	case rLegacyAdd:
		s.handleLegacyAdd(w, r, a, body)
	case rLegacyList:
		s.handleLegacyList(w, r, a, body)
	case rLegacyDel:
		s.handleLegacyDel(w, r, a, body)
	}
}

// queryValue returns the first value of key in a raw query without building a url.Values.
func queryValue(raw, key string) string {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != key {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			if u, err := unescape(v); err == nil {
				return u
			}
		}
		return v
	}
	return ""
}

func writeRaw(w http.ResponseWriter, ct string, b []byte) {
	h := w.Header()
	if ct == ctPlain {
		h["Content-Type"] = hdrPlain
	} else {
		h["Content-Type"] = hdrJSON
	}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.Write(b)
}

// writeErr writes {"errcode":code,"errmsg":msg+" rid: ..."}; an empty msg is ErrMsg(code).
// Like WeChat, errors are HTTP 200.
func writeErr(w http.ResponseWriter, ct string, code int, msg string) {
	if msg == "" {
		msg = ErrMsg(code)
	}
	msg += " rid: " + rid()
	b := make([]byte, 0, 64+len(msg))
	b = append(b, `{"errcode":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"errmsg":`...)
	q, _ := json.Marshal(msg)
	b = append(b, q...)
	b = append(b, '}')
	writeRaw(w, ct, b)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeErr(w, ctJSON, -1, "")
		return
	}
	writeRaw(w, ctJSON, b)
}

// rid imitates WeChat's request id, e.g. "651550b9-01654b11-301b8723".
func rid() string {
	var b [12]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:16] + "-" + h[16:]
}

// ok is the body of a bare success.
var okBody = []byte(`{"errcode":0,"errmsg":"ok"}`)

func unescape(s string) (string, error) { return url.QueryUnescape(s) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// touserOf finds the touser of a send body without decoding the rest.
func touserOf(body []byte) string {
	var sub subscribeRequest
	if fastSubscribe(body, &sub) {
		return sub.ToUser
	}
	var req struct {
		ToUser string `json:"touser"`
	}
	json.Unmarshal(body, &req)
	return req.ToUser
}

// knows reports whether the touser of a send body is a user of the app: one the simulator
// has seen for it through a login code, a form_id or prepay_id, a subscribe grant (even one
// used up) or a delivery. WeChat answers 40003 "invalid openid" to an openid it never issued
// for the app (another app's openid, or a made-up one); the subscribeMessage.send reference
// gives 40003 as "touser字段openid为空或者不正确". A body without touser (or that does not
// parse) reports true: the handler answers it with 47001 or 40003 in its own order.
//
// Cost: one shard lock for users with a grant or a delivery; the app lock and a scan of its
// login codes and credits only for the first send to any other user.
func (a *app) knows(body []byte) bool {
	to := touserOf(body)
	if to == "" {
		return true
	}
	sh := a.shard(to)
	sh.mu.Lock()
	u := sh.users[to]
	seen := u != nil && (len(u.grants) > 0 || len(u.inbox) > 0)
	sh.mu.Unlock()
	if seen {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.credits {
		if c.openid == to {
			return true
		}
	}
	for _, c := range a.codes {
		if c.openid == to {
			return true
		}
	}
	return false
}
