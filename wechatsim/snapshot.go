package wechatsim

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// snapshotVersion is the shape of a Snapshot; Load refuses another.
const snapshotVersion = 1

// snapshot is what Save writes and Load reads: what WeChat would still know
// about each app after the simulator restarts. wxnotify dev keeps one in its
// directory, so the templates, acceptances, form_ids and tokens its
// database remembers still exist on "WeChat's side" after a restart.
//
// Not kept: quotas and call counts (a restart is a new day for them),
// unexchanged wx.login codes, faults, the clock offset and latency.
type snapshot struct {
	Version int           `json:"version"`
	MsgID   uint64        `json:"msgid"` // the last msgid given, so msgids never repeat
	Apps    []snapshotApp `json:"apps"`
}

type snapshotApp struct {
	App       App                `json:"app"` // includes the secret: keep the file private (0600)
	Templates []snapshotTemplate `json:"templates,omitempty"`
	Credits   []snapshotCredit   `json:"credits,omitempty"` // form_ids and prepay_ids
	Users     []snapshotUser     `json:"users,omitempty"`
	Tokens    []snapshotToken    `json:"tokens,omitempty"`
}

type snapshotTemplate struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Tid       int       `json:"tid,omitempty"`
	Type      int       `json:"type"`
	Keywords  []Keyword `json:"keywords"`
	SceneDesc string    `json:"scene_desc,omitempty"`
	Legacy    bool      `json:"legacy,omitempty"`
}

type snapshotCredit struct {
	ID      string    `json:"id"`
	OpenID  string    `json:"openid"`
	Expires time.Time `json:"expires"`
	Left    int       `json:"left"`
}

type snapshotUser struct {
	OpenID string         `json:"openid"`
	Grants map[string]int `json:"grants,omitempty"`
	Inbox  []Delivered    `json:"inbox,omitempty"`
}

type snapshotToken struct {
	Value   string    `json:"value"`
	Stable  bool      `json:"stable,omitempty"`
	Expires time.Time `json:"expires"`
	Cutoff  int64     `json:"cutoff,omitempty"` // unix nanos; 0 = not superseded
}

// Save writes the simulator's state (apps with their secrets, templates,
// users' acceptances and inboxes, form_ids and prepay_ids, live tokens) as
// JSON to w, for Load in a later process. It is safe while the simulator
// serves: each app is read under its locks.
func (s *Server) Save(w io.Writer) error {
	snap := snapshot{Version: snapshotVersion, MsgID: s.msgID.Load()}
	now := s.Now()
	s.apps.Range(func(_, v any) bool {
		a := v.(*app)
		sa := snapshotApp{App: a.cfg}
		for _, p := range []*map[string]*template{a.templates.Load(), a.legacy.Load()} {
			for _, t := range sortedTemplates(*p) {
				sa.Templates = append(sa.Templates, snapshotTemplate{ID: t.ID, Title: t.Title, Tid: t.Tid, Type: t.Type,
					Keywords: slices.Clone(t.Keywords), SceneDesc: t.SceneDesc, Legacy: t.legacy})
			}
		}
		a.mu.Lock()
		for _, id := range slices.Sorted(maps.Keys(a.credits)) {
			c := a.credits[id]
			if c.left > 0 && now.Before(c.expires) {
				sa.Credits = append(sa.Credits, snapshotCredit{ID: id, OpenID: c.openid, Expires: c.expires, Left: c.left})
			}
		}
		for _, list := range [][]*token{a.tokens, a.stable} {
			for _, t := range list {
				if t.check(now) == 0 {
					sa.Tokens = append(sa.Tokens, snapshotToken{Value: t.value, Stable: t.stable, Expires: t.expires, Cutoff: t.cutoff.Load()})
				}
			}
		}
		a.mu.Unlock()
		for i := range a.shards {
			sh := &a.shards[i]
			sh.mu.Lock()
			for openid, u := range sh.users {
				sa.Users = append(sa.Users, snapshotUser{OpenID: openid, Grants: maps.Clone(u.grants), Inbox: u.list()})
			}
			sh.mu.Unlock()
		}
		slices.SortFunc(sa.Users, func(x, y snapshotUser) int { return strings.Compare(x.OpenID, y.OpenID) })
		snap.Apps = append(snap.Apps, sa)
		return true
	})
	slices.SortFunc(snap.Apps, func(x, y snapshotApp) int { return strings.Compare(x.App.AppID, y.App.AppID) })
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(snap)
}

// Load restores what Save wrote: each app of the snapshot replaces the app
// of that appid (as AddApp does), with its templates, users, credits and
// tokens. Call it before serving.
func (s *Server) Load(r io.Reader) error {
	var snap snapshot
	if err := json.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("wechatsim: read snapshot: %w", err)
	}
	if snap.Version != snapshotVersion {
		return fmt.Errorf("wechatsim: snapshot version %d, want %d", snap.Version, snapshotVersion)
	}
	if snap.MsgID > s.msgID.Load() {
		s.msgID.Store(snap.MsgID)
	}
	for _, sa := range snap.Apps {
		s.AddApp(sa.App)
		a := s.app(sa.App.AppID)
		for _, st := range sa.Templates {
			t := newTemplate(st.ID, st.Title, slices.Clone(st.Keywords))
			t.Tid, t.Type, t.SceneDesc, t.legacy = st.Tid, st.Type, st.SceneDesc, st.Legacy
			a.putTemplate(t)
		}
		a.mu.Lock()
		for _, c := range sa.Credits {
			a.credits[c.ID] = &credit{openid: c.OpenID, expires: c.Expires, left: c.Left}
		}
		for _, st := range sa.Tokens {
			t := &token{value: st.Value, app: a, stable: st.Stable, expires: st.Expires}
			t.cutoff.Store(st.Cutoff)
			s.tokens.Store(t.value, t)
			if t.stable {
				a.stable = append(a.stable, t)
			} else {
				a.tokens = append(a.tokens, t)
			}
		}
		a.mu.Unlock()
		for _, su := range sa.Users {
			sh := a.shard(su.OpenID)
			sh.mu.Lock()
			u := sh.user(su.OpenID)
			maps.Copy(u.grants, su.Grants)
			for _, d := range su.Inbox {
				u.add(d, s.inboxLimit)
			}
			sh.mu.Unlock()
		}
	}
	return nil
}

// AppSecret returns the secret of appid, and false when the simulator does
// not know the app: a caller restoring state (Load) decides whether it must
// add the app again.
func (s *Server) AppSecret(appid string) (string, bool) {
	a := s.app(appid)
	if a == nil {
		return "", false
	}
	return a.cfg.Secret, true
}

// FindTemplate returns the id of appid's template titled title (a legacy one
// when legacy), or "" when there is none: after Load, a caller that added
// templates before finds them rather than adding them again.
func (s *Server) FindTemplate(appid, title string, legacy bool) string {
	a := s.app(appid)
	if a == nil {
		return ""
	}
	p := a.templates.Load()
	if legacy {
		p = a.legacy.Load()
	}
	for _, t := range sortedTemplates(*p) {
		if t.Title == title {
			return t.ID
		}
	}
	return ""
}
