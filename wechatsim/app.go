package wechatsim

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// App is one simulated mini program.
type App struct {
	AppID  string `json:"appid"`
	Secret string `json:"secret"`
	// Pages, when non-empty, lists the only pages a message may open; any other page is 41030.
	Pages []string `json:"pages,omitempty"`
	// DailyTokenQuota limits GET /cgi-bin/token calls a day; 0 means DefaultDailyTokenQuota.
	DailyTokenQuota int `json:"daily_token_quota,omitempty"`
	// DailySendQuota limits subscribe sends a day (0: DefaultDailySendQuota) and, separately,
	// legacy template sends a day (0: DefaultDailyTemplateQuota).
	DailySendQuota int `json:"daily_send_quota,omitempty"`
	// CallbackURL receives PushEvent posts; empty means Options.CallbackURL.
	CallbackURL string `json:"callback_url,omitempty"`
	// CallbackToken is the Token used in callback signatures.
	CallbackToken string `json:"callback_token,omitempty"`
	// EncodingAESKey is the 43-character key of safe mode.
	EncodingAESKey string `json:"encoding_aes_key,omitempty"`
	// SafeMode encrypts pushed events (安全模式); otherwise they are plain (明文模式).
	SafeMode bool `json:"safe_mode,omitempty"`
	// JSONCallbacks pushes events as JSON; otherwise as XML.
	JSONCallbacks bool `json:"json_callbacks,omitempty"`
	// UnionID makes code2Session return a unionid (derived from the openid) as it does for
	// apps bound to an open platform account.
	UnionID bool `json:"unionid,omitempty"`
	// OriginalID is the gh_ id used as ToUserName in pushed events; empty derives one.
	OriginalID string `json:"original_id,omitempty"`
}

// Delivered is one message WeChat accepted for a user.
type Delivered struct {
	// Kind is "subscribe" or "template" (the legacy template message).
	Kind       string `json:"kind"`
	AppID      string `json:"appid"`
	OpenID     string `json:"openid"`
	MsgID      uint64 `json:"msgid"`
	TemplateID string `json:"template_id"`
	Page       string `json:"page,omitempty"`
	// Data maps keyword (thing1, keyword1, ...) to value.
	Data            map[string]string `json:"data"`
	FormID          string            `json:"form_id,omitempty"`
	EmphasisKeyword string            `json:"emphasis_keyword,omitempty"`
	// State is miniprogram_state (developer, trial or formal; formal when omitted).
	State string `json:"miniprogram_state,omitempty"`
	// Lang is the lang field (zh_CN when omitted).
	Lang string    `json:"lang,omitempty"`
	At   time.Time `json:"at"`
}

const nShards = 64

type app struct {
	cfg   App
	pages map[string]bool

	mu          sync.Mutex // tokens, quotas of token calls, codes, credits, template writes
	tokens      []*token   // /cgi-bin/token tokens not yet expired
	stable      []*token   // stable tokens not yet expired; the last one is current
	tokenDay    int64
	tokenN      int
	stableDay   int64
	stableN     int
	forceN      int
	lastForce   time.Time
	codes       map[string]*loginCode
	credits     map[string]*credit
	templates   atomic.Pointer[map[string]*template] // priTmplId -> subscribe template
	legacy      atomic.Pointer[map[string]*template] // template_id -> legacy template
	shards      [nShards]shard
	seed        maphash.Seed
	sendQuota   dailyCounter
	legacyQuota dailyCounter
	delivered   atomic.Int64
	overlaps    atomic.Int64 // sends refused with 43108: another to the same openid was in flight
	calls       [numPaths]atomic.Int64
}

// enter marks a send to openid in flight and reports whether it is the
// only one; every enter is followed by leave.
func (a *app) enter(openid string) bool {
	sh := a.shard(openid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.user(openid)
	u.inflight++
	return u.inflight == 1
}

func (a *app) leave(openid string) {
	sh := a.shard(openid)
	sh.mu.Lock()
	sh.user(openid).inflight--
	sh.mu.Unlock()
}

// Overlaps returns how many sends of appid were refused with 43108 because
// another send to the same openid was in flight.
func (s *Server) Overlaps(appid string) int64 {
	if a := s.app(appid); a != nil {
		return a.overlaps.Load()
	}
	return 0
}

type shard struct {
	mu    sync.Mutex
	users map[string]*user
	_     [40]byte // keep neighbouring shard locks off one cache line
}

type user struct {
	inflight int            // sends to this openid being handled now (43108 above one)
	grants   map[string]int // template id -> remaining one-shot acceptances
	inbox    []Delivered    // ring buffer of at most inboxLimit
	start    int
}

type loginCode struct {
	openid  string
	expires time.Time
	used    bool
}

type credit struct {
	openid  string
	expires time.Time
	left    int
}

// dailyCounter counts events per quota day without a lock.
type dailyCounter struct {
	day atomic.Int64
	n   atomic.Int64
}

// take counts one event on day and reports whether it is within limit.
func (c *dailyCounter) take(day int64, limit int) bool {
	if d := c.day.Load(); d != day {
		if c.day.CompareAndSwap(d, day) {
			c.n.Store(0)
		}
	}
	return c.n.Add(1) <= int64(limit)
}

// AddApp registers app, replacing any app with the same AppID; a replaced app loses its state
// and its tokens answer 40001.
func (s *Server) AddApp(a App) {
	ap := &app{
		cfg:     a,
		codes:   map[string]*loginCode{},
		credits: map[string]*credit{},
		seed:    maphash.MakeSeed(),
	}
	ap.cfg.Pages = slices.Clone(a.Pages)
	if len(a.Pages) > 0 {
		ap.pages = map[string]bool{}
		for _, p := range a.Pages {
			ap.pages[p] = true
		}
	}
	if ap.cfg.DailyTokenQuota <= 0 {
		ap.cfg.DailyTokenQuota = DefaultDailyTokenQuota
	}
	if ap.cfg.OriginalID == "" {
		ap.cfg.OriginalID = "gh_" + hex.EncodeToString([]byte(a.AppID))[:min(12, 2*len(a.AppID))]
	}
	empty := map[string]*template{}
	ap.templates.Store(&empty)
	empty2 := map[string]*template{}
	ap.legacy.Store(&empty2)
	for i := range ap.shards {
		ap.shards[i].users = map[string]*user{}
	}
	if old, loaded := s.apps.Swap(a.AppID, ap); loaded {
		s.revoke(old.(*app))
	}
}

func (s *Server) app(appid string) *app {
	v, ok := s.apps.Load(appid)
	if !ok {
		return nil
	}
	return v.(*app)
}

func (a *app) shard(openid string) *shard {
	return &a.shards[maphash.String(a.seed, openid)%nShards]
}

// user returns the state of openid; the shard lock must be held.
func (sh *shard) user(openid string) *user {
	u := sh.users[openid]
	if u == nil {
		u = &user{grants: map[string]int{}}
		sh.users[openid] = u
	}
	return u
}

func (u *user) add(d Delivered, limit int) {
	if len(u.inbox) < limit {
		u.inbox = append(u.inbox, d)
		return
	}
	u.inbox[u.start] = d
	u.start = (u.start + 1) % len(u.inbox)
}

func (u *user) list() []Delivered {
	out := make([]Delivered, 0, len(u.inbox))
	out = append(out, u.inbox[u.start:]...)
	return append(out, u.inbox[:u.start]...)
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// MintLoginCode stands in for wx.login: it returns a code that code2Session exchanges once,
// within LoginCodeLifetime, for openid. It returns "" when appid is unknown.
func (s *Server) MintLoginCode(appid, openid string) string {
	a := s.app(appid)
	if a == nil {
		return ""
	}
	code := randomID(24)
	a.mu.Lock()
	a.codes[code] = &loginCode{openid: openid, expires: s.Now().Add(LoginCodeLifetime)}
	a.mu.Unlock()
	return code
}

// MintFormID stands in for a <form report-submit> submission: the form_id allows one legacy
// template message to openid only, within FormIDLifetime. It returns "" when appid is unknown.
func (s *Server) MintFormID(appid, openid string) string {
	return s.mintCredit(appid, openid, 1)
}

// MintPrepayID stands in for a WeChat Pay prepay_id: it allows PrepayIDUses legacy template
// messages to openid only, within FormIDLifetime. It returns "" when appid is unknown.
func (s *Server) MintPrepayID(appid, openid string) string {
	return s.mintCredit(appid, openid, PrepayIDUses)
}

func (s *Server) mintCredit(appid, openid string, uses int) string {
	a := s.app(appid)
	if a == nil {
		return ""
	}
	var id string
	if uses == 1 {
		id = hex.EncodeToString([]byte(randomID(12)))[:32]
	} else {
		id = "wx" + s.Now().Format("02150405") + hex.EncodeToString([]byte(randomID(9)))[:24]
	}
	a.mu.Lock()
	a.credits[id] = &credit{openid: openid, expires: s.Now().Add(FormIDLifetime), left: uses}
	a.mu.Unlock()
	return id
}

// GrantSubscribe records that openid accepted templateID n more times in
// wx.requestSubscribeMessage; each subscribe send to that pair consumes one.
// Non-positive n does nothing.
func (s *Server) GrantSubscribe(appid, openid, templateID string, n int) {
	a := s.app(appid)
	if a == nil || n <= 0 {
		return
	}
	sh := a.shard(openid)
	sh.mu.Lock()
	sh.user(openid).grants[templateID] += n
	sh.mu.Unlock()
}

// RevokeSubscribe records that openid turned templateID off in the settings page: no
// acceptance of it is left.
func (s *Server) RevokeSubscribe(appid, openid, templateID string) {
	a := s.app(appid)
	if a == nil {
		return
	}
	sh := a.shard(openid)
	sh.mu.Lock()
	sh.user(openid).grants[templateID] = 0 // the user stays known to the app (43101, not 40003)
	sh.mu.Unlock()
}

// Grants returns how many acceptances openid has left for templateID.
func (s *Server) Grants(appid, openid, templateID string) int {
	a := s.app(appid)
	if a == nil {
		return 0
	}
	sh := a.shard(openid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if u := sh.users[openid]; u != nil {
		return u.grants[templateID]
	}
	return 0
}

// Inbox returns the deliveries to openid in the order WeChat accepted them (at most the last
// Options.InboxLimit).
func (s *Server) Inbox(appid, openid string) []Delivered {
	a := s.app(appid)
	if a == nil {
		return nil
	}
	sh := a.shard(openid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if u := sh.users[openid]; u != nil {
		return u.list()
	}
	return nil
}

// AllDelivered returns every retained delivery of appid, oldest first. Use DeliveredCount
// when only the number matters: it is O(1).
func (s *Server) AllDelivered(appid string) []Delivered {
	a := s.app(appid)
	if a == nil {
		return nil
	}
	var out []Delivered
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		for _, u := range sh.users {
			out = append(out, u.list()...)
		}
		sh.mu.Unlock()
	}
	slices.SortStableFunc(out, func(x, y Delivered) int {
		if c := x.At.Compare(y.At); c != 0 {
			return c
		}
		return cmp.Compare(x.MsgID, y.MsgID)
	})
	return out
}

// DeliveredCount returns how many messages appid delivered ("" counts every app).
func (s *Server) DeliveredCount(appid string) int64 {
	var n int64
	s.apps.Range(func(k, v any) bool {
		if appid == "" || k.(string) == appid {
			n += v.(*app).delivered.Load()
		}
		return true
	})
	return n
}

// Calls returns how many API calls reached path for appid; "" matches any path or app.
// A call is attributed to the app named by its access_token or appid parameter; calls naming
// no known app count only under appid "".
func (s *Server) Calls(path, appid string) int {
	idx := -1
	if path != "" {
		i, ok := pathIndex[path]
		if !ok {
			return 0
		}
		idx = i
	}
	sum := func(a *app) int {
		if idx >= 0 {
			return int(a.calls[idx].Load())
		}
		n := 0
		for i := range a.calls {
			n += int(a.calls[i].Load())
		}
		return n
	}
	if appid != "" {
		if a := s.app(appid); a != nil {
			return sum(a)
		}
		return 0
	}
	n := sum(&s.anon)
	s.apps.Range(func(_, v any) bool {
		n += sum(v.(*app))
		return true
	})
	return n
}
