package http

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/wechat"
)

// The WeChat push callback (消息推送): /wechat/callback/{appid} is the URL
// set in the mini program's admin console. GET is the URL check (echo
// echostr once the signature holds); POST carries subscribe-message events,
// plain or encrypted (safe mode), XML or JSON. A push is accepted only if
// its signature holds under the app's Token, its timestamp is within
// CallbackMaxClockSkew of now, and its (timestamp, nonce) was not seen in
// the last CallbackNonceTTL; an encrypted one must also decrypt under the
// app's EncodingAESKey and name the app. Anything else is answered 4xx and
// logged without its body, and nothing is stored.
//
// Known weakness of WeChat's plain mode: the signature covers Token,
// timestamp and nonce but not the body, so whoever sees one genuine push
// could send another body with its query within the skew window if the
// nonce was never used. The nonce cache stops reuse of pushes wxnotify
// received; use safe mode, where msg_signature covers the ciphertext.

// Limits of the callback.
const (
	// CallbackMaxClockSkew is how far a push's timestamp may be from now.
	CallbackMaxClockSkew = 5 * time.Minute
	// CallbackNonceTTL is how long a (timestamp, nonce) is remembered; more
	// than twice the skew, so a replay is caught for as long as its
	// timestamp passes.
	CallbackNonceTTL = 10 * time.Minute
	// DefaultMaxCallbackNonces bounds the nonce cache; beyond it the oldest
	// are forgotten first.
	DefaultMaxCallbackNonces = 100_000
)

// CallbackConfigs gives an app's push configuration with its secrets;
// *token.AppService implements it.
type CallbackConfigs interface {
	CallbackConfig(ctx context.Context, appID string) (*wxnotify.CallbackConfig, error)
}

func (s *Server) registerCallbackRoutes() {
	s.nonces = newNonceCache(DefaultMaxCallbackNonces, CallbackNonceTTL)
	s.handle("GET /wechat/callback/{appid}", s.handleCallbackVerify)
	s.handle("POST /wechat/callback/{appid}", s.handleCallbackEvent)
}

// handleCallbackVerify answers WeChat's URL check: it echoes echostr when
// the signature over the app's Token, timestamp and nonce holds.
func (s *Server) handleCallbackVerify(w http.ResponseWriter, r *http.Request) {
	appID := r.PathValue("appid")
	cfg, err := s.callbackConfig(r.Context(), appID)
	if err != nil {
		s.callbackError(w, r, err)
		return
	}
	q := r.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if err := s.checkTimestamp(ts); err != nil {
		s.callbackError(w, r, err)
		return
	}
	if !wechat.VerifySignature(cfg.Token.Reveal(), q.Get("signature"), ts, nonce) {
		s.callbackError(w, r, errBadSignature)
		return
	}
	echo := q.Get("echostr")
	if echo == "" {
		s.callbackError(w, r, wxnotify.FieldErrorf("echostr", "echostr required"))
		return
	}
	writeText(w, echo)
}

// handleCallbackEvent takes a push, checks it, turns each List entry of a
// subscribe-message event into a wxnotify.Event and hands them to the
// EventService in one call. Other pushes are acknowledged and dropped.
func (s *Server) handleCallbackEvent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	appID := r.PathValue("appid")
	cfg, err := s.callbackConfig(ctx, appID)
	if err != nil {
		s.callbackError(w, r, err)
		return
	}
	q := r.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if err := s.checkTimestamp(ts); err != nil {
		s.callbackError(w, r, err)
		return
	}
	if nonce == "" || len(nonce) > 64 {
		s.callbackError(w, r, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "nonce missing or malformed"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wechat.MaxPushBodySize))
	if err != nil {
		s.callbackError(w, r, wxnotify.Errorf(wxnotify.EINVALID, "push body unreadable or larger than %d bytes", wechat.MaxPushBodySize))
		return
	}
	isJSON := sniffJSON(body, r.Header.Get("Content-Type"))

	var msg []byte
	switch q.Get("encrypt_type") {
	case "aes":
		if cfg.EncodingAESKey == "" {
			s.callbackError(w, r, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "encrypted push, but the app is configured for plain mode"))
			return
		}
		env, err := wechat.ParseEnvelope(body, isJSON)
		if err != nil {
			s.callbackError(w, r, wxnotify.Errorf(wxnotify.EINVALID, "push envelope: %v", err))
			return
		}
		if !wechat.VerifyMsgSignature(cfg.Token.Reveal(), q.Get("msg_signature"), ts, nonce, env.Encrypt) {
			s.callbackError(w, r, errBadSignature)
			return
		}
		c, err := wechat.NewCipher(cfg.EncodingAESKey.Reveal())
		if err != nil {
			s.callbackError(w, r, err) // stored key unusable: internal, logged
			return
		}
		plain, forApp, err := c.Decrypt(env.Encrypt)
		if err != nil {
			s.callbackError(w, r, wxnotify.Errorf(wxnotify.EINVALID, "push does not decrypt"))
			return
		}
		if forApp != appID {
			s.callbackError(w, r, wxnotify.Errorf(wxnotify.EFORBIDDEN, "push was encrypted for another app"))
			return
		}
		msg = plain
		isJSON = sniffJSON(msg, r.Header.Get("Content-Type"))
	case "", "raw":
		if cfg.Mode == wxnotify.CallbackSafe {
			s.callbackError(w, r, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "the app is in safe mode: plain pushes are refused"))
			return
		}
		if !wechat.VerifySignature(cfg.Token.Reveal(), q.Get("signature"), ts, nonce) {
			s.callbackError(w, r, errBadSignature)
			return
		}
		msg = body
	default:
		s.callbackError(w, r, wxnotify.FieldErrorf("encrypt_type", "encrypt_type must be aes or absent"))
		return
	}

	if loc := xmlSurrogateRef.FindIndex(msg); !isJSON && loc != nil {
		// Go's XML decoder turns a surrogate character reference into
		// U+FFFD: refuse it rather than store a rewritten value.
		s.callbackError(w, r, wxnotify.FieldErrorf(xmlElementAt(msg, loc[0]), "a character reference to a surrogate (U+D800–U+DFFF) is not text"))
		return
	}
	m, err := wechat.ParseMessage(msg, isJSON)
	if err != nil {
		s.callbackError(w, r, wxnotify.Errorf(wxnotify.EINVALID, "push body: %v", err))
		return
	}
	events, err := eventsFromMessage(appID, m)
	if err != nil {
		s.callbackError(w, r, err)
		return
	}
	// The nonce is taken only now that the push is known to be genuine and
	// well-formed, and given back if it cannot be handled, so WeChat's retry
	// of a push we failed on is not mistaken for a replay.
	key := appID + "\x00" + ts + "\x00" + nonce
	isNew, err := s.seenAdd(ctx, key)
	if err != nil {
		s.callbackError(w, r, err)
		return
	} else if !isNew {
		s.callbackError(w, r, wxnotify.Errorf(wxnotify.ECONFLICT, "push replayed: nonce seen already"))
		return
	}
	if len(events) == 0 {
		s.logger().InfoContext(ctx, "callback: push ignored", "appid", appID, "msg_type", m.MsgType, "event", m.Event)
		writeText(w, "success")
		return
	}
	if s.EventService == nil {
		s.seenRemove(ctx, key)
		s.callbackError(w, r, errNotConfigured("events"))
		return
	}
	if err := s.EventService.HandleEvents(ctx, events); err != nil {
		s.seenRemove(ctx, key)
		s.callbackError(w, r, err)
		return
	}
	writeText(w, "success")
}

var errBadSignature = wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "signature does not match")

// eventsFromMessage makes one Event per List entry of a subscribe-message
// event, and none for any other push.
func eventsFromMessage(appID string, m *wechat.Message) ([]*wxnotify.Event, error) {
	if m.MsgType != wechat.MsgTypeEvent {
		return nil, nil
	}
	switch m.Event {
	case wechat.EventSubscribePopup, wechat.EventSubscribeChange, wechat.EventSubscribeSent:
	default:
		return nil, nil
	}
	if m.FromUserName == "" {
		return nil, wxnotify.FieldErrorf("FromUserName", "event names no user")
	}
	if len(m.List) == 0 {
		return nil, wxnotify.FieldErrorf("List", "event has no entries")
	}
	var created time.Time
	if m.CreateTime > 0 {
		created = time.Unix(m.CreateTime, 0).UTC()
	}
	events := make([]*wxnotify.Event, len(m.List))
	for i, it := range m.List {
		if it.TemplateID == "" {
			return nil, wxnotify.FieldErrorf("List["+strconv.Itoa(i)+"].TemplateId", "entry names no template")
		}
		ev := &wxnotify.Event{
			AppID:      appID,
			Type:       m.Event,
			OpenID:     m.FromUserName,
			TemplateID: it.TemplateID,
			CreateTime: created,
			Status:     it.SubscribeStatusString,
			PopupScene: it.PopupScene,
		}
		if m.Event == wechat.EventSubscribeSent {
			ev.Status, ev.MsgID, ev.ErrorCode = it.ErrorStatus, it.MsgID, it.ErrorCode
			if ev.Status == "" && it.ErrorCode == 0 {
				ev.Status = "success"
			}
		} else if ev.Status == "" {
			return nil, wxnotify.FieldErrorf("List["+strconv.Itoa(i)+"].SubscribeStatusString", "entry has no status")
		}
		events[i] = ev
	}
	return events, nil
}

func (s *Server) callbackConfig(ctx context.Context, appID string) (*wxnotify.CallbackConfig, error) {
	if err := checkAppIDFormat(appID); err != nil {
		return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "no push configuration for this app")
	}
	if s.CallbackConfigs == nil {
		return nil, errNotConfigured("callbacks")
	}
	cfg, err := s.CallbackConfigs.CallbackConfig(ctx, appID)
	if wxnotify.ErrorCode(err) == wxnotify.ENOTFOUND {
		return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "no push configuration for this app")
	}
	return cfg, err
}

// checkTimestamp refuses a missing timestamp or one further than
// CallbackMaxClockSkew from now.
func (s *Server) checkTimestamp(ts string) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "timestamp missing or malformed")
	}
	d := s.now().Sub(time.Unix(sec, 0))
	if d > CallbackMaxClockSkew || d < -CallbackMaxClockSkew {
		return wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "timestamp outside the allowed clock skew")
	}
	return nil
}

// callbackError logs a refused push (never its body or query secrets) and
// answers with the error.
func (s *Server) callbackError(w http.ResponseWriter, r *http.Request, err error) {
	if code := wxnotify.ErrorCode(err); code != wxnotify.EINTERNAL {
		s.logger().WarnContext(r.Context(), "callback refused",
			"appid", r.PathValue("appid"), "method", r.Method, "code", code, "reason", wxnotify.ErrorMessage(err),
			"remote", r.RemoteAddr, "request_id", requestIDFrom(r.Context()))
	}
	s.Error(w, r, err)
}

// sniffJSON decides between JSON and XML: by the body's first byte when it
// says, else by Content-Type.
func sniffJSON(body []byte, contentType string) bool {
	b := bytes.TrimLeft(body, " \t\r\n\ufeff")
	switch {
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		return true
	case len(b) > 0 && b[0] == '<':
		return false
	}
	return strings.Contains(strings.ToLower(contentType), "json")
}

func writeText(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, s)
}

// nonceCache remembers keys for ttl, at most max of them; when full, the
// oldest is forgotten first. Keys are added in time order, so the oldest is
// at the front.
// SeenKeys is a replay guard shared by instances; store.Executor is one.
type SeenKeys interface {
	SeenAdd(ctx context.Context, key string, now, expires time.Time) (bool, error)
	SeenRemove(ctx context.Context, key string) error
}

func (s *Server) seenAdd(ctx context.Context, key string) (bool, error) {
	now := s.now()
	if s.SeenKeys == nil {
		return s.nonces.add(key, now), nil
	}
	return s.SeenKeys.SeenAdd(ctx, seenKey(key), now, now.Add(CallbackNonceTTL))
}

func (s *Server) seenRemove(ctx context.Context, key string) {
	if s.SeenKeys == nil {
		s.nonces.remove(key)
		return
	}
	if err := s.SeenKeys.SeenRemove(context.WithoutCancel(ctx), seenKey(key)); err != nil {
		// The retry of this push will be refused as a replay; WeChat sends
		// subscribe events again only a few times.
		s.logger().WarnContext(ctx, "callback: could not forget a nonce", "err", err)
	}
}

// seenKey is the shared store's key for a push's (appid, timestamp, nonce):
// hashed, since the parts are joined by NUL, which PostgreSQL text refuses.
func seenKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "callback:" + hex.EncodeToString(sum[:])
}

type nonceCache struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	ll  *list.List // of *nonceEntry, oldest first
	m   map[string]*list.Element
}

type nonceEntry struct {
	key     string
	expires time.Time
}

func newNonceCache(max int, ttl time.Duration) *nonceCache {
	return &nonceCache{max: max, ttl: ttl, ll: list.New(), m: make(map[string]*list.Element)}
}

// add records key at now and reports true, or reports false if key was
// recorded less than ttl ago.
func (c *nonceCache) add(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.ll.Front(); e != nil; e = c.ll.Front() {
		ent := e.Value.(*nonceEntry)
		if now.Before(ent.expires) && c.ll.Len() < c.max {
			break
		}
		c.ll.Remove(e)
		if c.m[ent.key] == e {
			delete(c.m, ent.key)
		}
	}
	if e, ok := c.m[key]; ok {
		if now.Before(e.Value.(*nonceEntry).expires) {
			return false
		}
		c.ll.Remove(e)
	}
	c.m[key] = c.ll.PushBack(&nonceEntry{key: key, expires: now.Add(c.ttl)})
	return true
}

// remove forgets key, so that a push that failed can be retried.
func (c *nonceCache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		c.ll.Remove(e)
		delete(c.m, key)
	}
}

// xmlSurrogateRef matches an XML character reference to a surrogate code
// point, hexadecimal (&#xD800;–&#xDFFF;) or decimal (&#55296;–&#57343;).
var xmlSurrogateRef = regexp.MustCompile(`&#(?:[xX]0*[dD][89a-fA-F][0-9a-fA-F]{2}|0*(?:5529[6-9]|55[3-9][0-9]{2}|5[6][0-9]{3}|57[0-2][0-9]{2}|573[0-3][0-9]|5734[0-3]));`)

// xmlElementAt names the element whose text holds byte i of an XML body:
// the last start tag before it.
func xmlElementAt(b []byte, i int) string {
	for j := i - 1; j >= 0; j-- {
		if b[j] == '<' && j+1 < i && (b[j+1] >= 'A' && b[j+1] <= 'Z' || b[j+1] >= 'a' && b[j+1] <= 'z') {
			end := j + 1
			for end < i && b[end] != '>' && b[end] != ' ' && b[end] != '/' {
				end++
			}
			return string(b[j+1 : end])
		}
	}
	return ""
}
