// Package catalog keeps each app's templates: it mirrors them from WeChat
// (subscribe templates from /wxaapi/newtmpl, legacy ones from
// /cgi-bin/wxopen/template), adds and deletes them through WeChat, keeps the
// app's aliases and truncation policies, and checks messages against them
// when they are accepted (Validate), so data WeChat would refuse with 47003
// is refused at once, naming the field. The keyword rules themselves live in
// the root package (template.go); this package knows which keywords each
// template has.
//
// A template the catalog has never seen (no sync yet, or created on WeChat's
// console since the last one) is not checked: Validate lets the message
// through and WeChat decides, so sending works before the first sync.
package catalog

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/wechat"
)

// Defaults of the Service.
const (
	// DefaultCacheTTL is how long Validate trusts its in-memory copy of an
	// app's catalog: changes made by another instance (a sync, an alias)
	// are seen at most this late; changes made through this Service at once.
	DefaultCacheTTL = 30 * time.Second
	// DefaultSyncInterval is how often the template-sync job syncs every app.
	DefaultSyncInterval = time.Hour
	// maxLegacyPages bounds the pages of the legacy template list read in
	// one sync (20 templates a page; WeChat allows 25 templates).
	maxLegacyPages = 50
)

// Client is the part of *wechat.Client the catalog calls.
type Client interface {
	SubscribeTemplateList(ctx context.Context, accessToken string) ([]wechat.Template, error)
	SubscribeTemplateAdd(ctx context.Context, accessToken, tid string, kidList []int, sceneDesc string) (string, error)
	SubscribeTemplateDelete(ctx context.Context, accessToken, priTmplID string) error
	SubscribeCategories(ctx context.Context, accessToken string) ([]wechat.Category, error)
	SubscribePubTemplateTitles(ctx context.Context, accessToken string, categoryIDs []int, start, limit int) (wechat.PubTemplateTitles, error)
	SubscribePubTemplateKeywords(ctx context.Context, accessToken, tid string) ([]wechat.PubTemplateKeyword, error)
	TemplateList(ctx context.Context, accessToken string, offset, count int) ([]wechat.LegacyTemplate, error)
	TemplateAdd(ctx context.Context, accessToken, id string, keywordIDs []int) (string, error)
	TemplateDelete(ctx context.Context, accessToken, templateID string) error
	TemplateLibraryList(ctx context.Context, accessToken string, offset, count int) (wechat.LibraryTitles, error)
	TemplateLibraryGet(ctx context.Context, accessToken, id string) (wechat.LibraryTemplate, error)
}

var _ Client = (*wechat.Client)(nil)

// Service implements wxnotify.TemplateService over the store, WeChat and
// the token service. It is safe for concurrent use; the zero value is not
// usable: set Store, Queue, Client and Tokens.
type Service struct {
	Store store.Executor
	// Queue fails the waiting messages of a template deleted on WeChat.
	Queue  *queue.Queue
	Client Client
	Tokens wxnotify.TokenService
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// CacheTTL is how long Validate trusts its copy of an app's catalog;
	// 0 means DefaultCacheTTL.
	CacheTTL time.Duration
	// OnSync, when set, is called after each app's sync by SyncAll (err is
	// the sync's error), for metrics and tests.
	OnSync func(appID string, added, removed int, err error)

	// MissSyncInterval bounds the syncs Validate makes for a template it
	// does not know, per app; 0 means DefaultMissSyncInterval.
	MissSyncInterval time.Duration

	mu       sync.Mutex
	cache    map[string]*appCatalog
	gen      map[string]uint64    // bumped by every change made here
	missSync map[string]time.Time // appid → when Validate last synced for a miss
	group    singleflight.Group
}

// DefaultMissSyncInterval is how often, at most, an unknown template id
// makes Validate sync the app's templates from WeChat: a template added on
// the platform a minute ago works at once, and a flood of typos costs one
// WeChat call per interval.
const DefaultMissSyncInterval = 10 * time.Second

var _ wxnotify.TemplateService = (*Service)(nil)

// appCatalog is one app's templates, indexed for Validate.
type appCatalog struct {
	until   time.Time
	byID    map[string]*wxnotify.Template
	byAlias map[string]*wxnotify.Template
}

func (c *appCatalog) resolve(idOrAlias string) *wxnotify.Template {
	if t := c.byID[idOrAlias]; t != nil {
		return t
	}
	return c.byAlias[idOrAlias]
}

// ReasonTemplateDeleted is why the credits of a template deleted on
// WeChat's side die.
const ReasonTemplateDeleted = "template_deleted"

// syncKey is the key background syncs act with.
var syncKey = &wxnotify.APIKey{ID: "catalog", Name: "wxnotify template sync", Apps: []string{wxnotify.AllApps}}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Validate checks a message against its template, for the accept path:
//   - the template_id may be an alias: it is replaced by the template's id;
//   - an empty kind takes the template's kind; a different kind is EINVALID
//     naming "kind";
//   - a template deleted on WeChat's side is EINVALID naming "template_id";
//   - the data keys must be exactly the template's keywords: a missing or
//     unknown key is EINVALID naming "data.<key>";
//   - thing values of keywords the template opted in to truncation
//     (TruncateThing) are cut to fit; m.Data is then replaced by a copy, so
//     a map shared between messages is never written;
//   - every value must follow its keyword's rule (wxnotify.ValidateKeyword).
//
// A template id or alias the catalog does not have makes it sync the app's
// templates from WeChat (at most once per MissSyncInterval per app, so a
// template added on the platform a minute ago works); still unknown, it is
// EINVALID naming "template_id". When the sync cannot reach WeChat the
// message passes unchecked: WeChat will judge it (40037), and an outage of
// WeChat's template API must not stop every send. A message without an
// appid, template_id or data passes unchanged: Prepare reports those.
// The catalog is cached per app for CacheTTL.
func (s *Service) Validate(ctx context.Context, m *wxnotify.Message) error {
	if m.AppID == "" || m.TemplateID == "" || len(m.Data) == 0 {
		return nil
	}
	c, err := s.cached(ctx, m.AppID)
	if err != nil {
		return fmt.Errorf("template catalog: %w", err)
	}
	t := c.resolve(m.TemplateID)
	if t == nil {
		synced, err := s.syncForMiss(ctx, m.AppID)
		if err != nil {
			s.logger().WarnContext(ctx, "template not in the catalog, and the sync failed: accepted unchecked",
				"appid", m.AppID, "template_id", m.TemplateID, "err", err)
			return nil
		}
		if c, err = s.cached(ctx, m.AppID); err != nil {
			return fmt.Errorf("template catalog: %w", err)
		}
		if t = c.resolve(m.TemplateID); t == nil {
			when := "synced from WeChat just now"
			if !synced {
				when = "synced from WeChat in the last " + cmp.Or(s.MissSyncInterval, DefaultMissSyncInterval).String()
			}
			return wxnotify.FieldErrorf("template_id", "app %s has no template or alias %q (%s); see `wxnotify template ls`",
				m.AppID, m.TemplateID, when)
		}
	}
	return checkMessage(t, m)
}

// TemplateRejected tells the catalog that WeChat answered 40037 (invalid
// template_id) for templateID: it syncs the app's templates in the
// background (within MissSyncInterval), so a template deleted on the
// platform is marked deleted and its queued messages fail without a call.
func (s *Service) TemplateRejected(appID, templateID string) {
	go func() {
		if _, err := s.syncForMiss(context.Background(), appID); err != nil {
			s.logger().Warn("sync after 40037 failed", "appid", appID, "template_id", templateID, "err", err)
		}
	}()
}

// syncForMiss syncs the app's templates unless Validate did so within
// MissSyncInterval, and reports whether it did now. Concurrent misses of
// one app share the sync.
func (s *Service) syncForMiss(ctx context.Context, appID string) (bool, error) {
	now := s.now()
	s.mu.Lock()
	last := s.missSync[appID]
	s.mu.Unlock()
	if !last.IsZero() && now.Sub(last) < cmp.Or(s.MissSyncInterval, DefaultMissSyncInterval) {
		return false, nil
	}
	// Misses during the sync wait for it (they may name the template it
	// brings); the interval counts from its end.
	_, err, _ := s.group.Do("miss:"+appID, func() (any, error) {
		_, _, err := s.sync(wxnotify.NewContextWithAPIKey(context.WithoutCancel(ctx), syncKey), appID)
		s.mu.Lock()
		if s.missSync == nil {
			s.missSync = map[string]time.Time{}
		}
		s.missSync[appID] = s.now()
		s.mu.Unlock()
		return nil, err
	})
	return err == nil, err
}

func checkMessage(t *wxnotify.Template, m *wxnotify.Message) error {
	if t.Deleted {
		return wxnotify.FieldErrorf("template_id", "template %s (%s) was deleted on WeChat's side", t.TemplateID, t.Title)
	}
	switch m.Kind {
	case "":
		m.Kind = t.Kind
	case t.Kind:
	default:
		return wxnotify.FieldErrorf("kind", "template %s (%s) is a %s template: kind must be %q", t.TemplateID, t.Title, t.Kind, t.Kind)
	}
	m.TemplateID = t.TemplateID
	for _, k := range t.Keywords {
		if _, ok := m.Data[k.Key]; !ok {
			return wxnotify.FieldErrorf("data."+k.Key, "missing: template %q has keyword %s (%s)", t.Title, k.Key, k.Label)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(m.Data)) {
		if t.Keyword(key) == nil {
			return wxnotify.FieldErrorf("data."+key, "unknown keyword: template %q has %s", t.Title, keyList(t))
		}
	}
	copied := false
	for _, key := range t.TruncateThing {
		v, ok := m.Data[key]
		if !ok {
			continue
		}
		if cut, changed := wxnotify.TruncateThing(v); changed {
			if !copied {
				m.Data, copied = maps.Clone(m.Data), true
			}
			m.Data[key] = cut
		}
	}
	for _, k := range t.Keywords {
		if msg := wxnotify.ValidateKeyword(k.Type, m.Data[k.Key]); msg != "" {
			return wxnotify.FieldErrorf("data."+k.Key, "%s (%s)", msg, k.Label)
		}
	}
	return nil
}

func keyList(t *wxnotify.Template) string {
	keys := make([]string, len(t.Keywords))
	for i, k := range t.Keywords {
		keys[i] = k.Key
	}
	return strings.Join(keys, ", ")
}

// cached returns the app's catalog, loading it when the cached copy is
// older than CacheTTL; concurrent callers share one load.
func (s *Service) cached(ctx context.Context, appID string) (*appCatalog, error) {
	now := s.now()
	s.mu.Lock()
	c, gen := s.cache[appID], s.gen[appID]
	s.mu.Unlock()
	if c != nil && now.Before(c.until) {
		return c, nil
	}
	v, err, _ := s.group.Do(appID, func() (any, error) {
		c, err := s.load(ctx, appID)
		if err != nil {
			return nil, err
		}
		c.until = now.Add(cmp.Or(s.CacheTTL, DefaultCacheTTL))
		s.mu.Lock()
		defer s.mu.Unlock()
		// A change made here while loading bumped gen: keep nothing stale.
		if s.gen[appID] == gen {
			if s.cache == nil {
				s.cache = map[string]*appCatalog{}
			}
			s.cache[appID] = c
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*appCatalog), nil
}

// invalidate drops the app's cached catalog after a change made here.
func (s *Service) invalidate(appID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == nil {
		s.gen = map[string]uint64{}
	}
	s.gen[appID]++
	delete(s.cache, appID)
}

// load reads the app's catalog from the store.
func (s *Service) load(ctx context.Context, appID string) (*appCatalog, error) {
	rows, err := s.Store.TemplateList(ctx, appID)
	if err != nil {
		return nil, err
	}
	aliases, err := s.Store.TemplateAliasList(ctx, appID)
	if err != nil {
		return nil, err
	}
	c := &appCatalog{byID: make(map[string]*wxnotify.Template, len(rows)), byAlias: make(map[string]*wxnotify.Template, len(aliases))}
	for _, r := range rows {
		t, err := templateFromRow(r)
		if err != nil {
			return nil, err
		}
		c.byID[t.TemplateID] = t
	}
	for _, a := range aliases {
		if t := c.byID[a.TemplateID]; t != nil {
			t.Aliases = append(t.Aliases, a.Alias)
			c.byAlias[a.Alias] = t
		}
	}
	return c, nil
}

func templateFromRow(r *store.Template) (*wxnotify.Template, error) {
	t := &wxnotify.Template{
		AppID: r.AppID, TemplateID: r.TemplateID, Kind: wxnotify.MessageKind(r.Kind), Title: r.Title,
		Content: r.Content, Type: r.Type, Deleted: r.Deleted, SyncedAt: r.SyncedAt,
	}
	if err := json.Unmarshal(r.Keywords, &t.Keywords); err != nil {
		return nil, fmt.Errorf("template %s: keywords: %w", r.TemplateID, err)
	}
	if len(r.Truncate) > 0 {
		if err := json.Unmarshal(r.Truncate, &t.TruncateThing); err != nil {
			return nil, fmt.Errorf("template %s: truncate: %w", r.TemplateID, err)
		}
	}
	if t.Keywords == nil {
		t.Keywords = []wxnotify.TemplateKeyword{}
	}
	return t, nil
}

func templateRow(t *wxnotify.Template) *store.Template {
	kw, _ := json.Marshal(t.Keywords) // cannot fail on these types
	return &store.Template{
		AppID: t.AppID, TemplateID: t.TemplateID, Kind: string(t.Kind), Title: t.Title, Content: t.Content,
		Keywords: kw, Type: t.Type,
	}
}

// FindTemplates implements wxnotify.TemplateService.
func (s *Service) FindTemplates(ctx context.Context, appID string) ([]*wxnotify.Template, error) {
	if err := wxnotify.CheckAppAccess(ctx, appID); err != nil {
		return nil, err
	}
	c, err := s.load(ctx, appID)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	out := slices.Collect(maps.Values(c.byID))
	slices.SortFunc(out, func(a, b *wxnotify.Template) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Title, b.Title), cmp.Compare(a.TemplateID, b.TemplateID))
	})
	if out == nil {
		out = []*wxnotify.Template{}
	}
	return out, nil
}

// ResolveTemplate implements wxnotify.TemplateService. It reads the store,
// not the cache.
func (s *Service) ResolveTemplate(ctx context.Context, appID, idOrAlias string) (*wxnotify.Template, error) {
	if err := wxnotify.CheckAppAccess(ctx, appID); err != nil {
		return nil, err
	}
	return s.resolve(ctx, appID, idOrAlias)
}

func (s *Service) resolve(ctx context.Context, appID, idOrAlias string) (*wxnotify.Template, error) {
	c, err := s.load(ctx, appID)
	if err != nil {
		return nil, fmt.Errorf("resolve template: %w", err)
	}
	t := c.resolve(idOrAlias)
	if t == nil {
		return nil, &wxnotify.Error{Code: wxnotify.ENOTFOUND, Field: "template_id",
			Message: fmt.Sprintf("app %s has no template or alias %q in the catalog (sync the templates first)", appID, idOrAlias)}
	}
	return t, nil
}

// SetAlias implements wxnotify.TemplateService. templateID may itself be
// an alias; the new alias then names the same template.
func (s *Service) SetAlias(ctx context.Context, appID, alias, templateID string) error {
	if err := wxnotify.CheckAppAccess(ctx, appID); err != nil {
		return err
	}
	if err := wxnotify.ValidateTemplateAlias(alias); err != nil {
		return err
	}
	if templateID == "" {
		return wxnotify.FieldErrorf("template_id", "template_id required")
	}
	t, err := s.resolve(ctx, appID, templateID)
	if err != nil {
		return err
	}
	if t.Deleted {
		return wxnotify.FieldErrorf("template_id", "template %s was deleted on WeChat's side", t.TemplateID)
	}
	err = s.Store.TemplateAliasSet(ctx, &store.TemplateAlias{AppID: appID, Alias: alias, TemplateID: t.TemplateID})
	s.invalidate(appID)
	if errors.Is(err, store.ErrNotFound) {
		return &wxnotify.Error{Code: wxnotify.ENOTFOUND, Field: "template_id", Message: fmt.Sprintf("template %s not found", t.TemplateID)}
	} else if err != nil {
		return fmt.Errorf("set alias: %w", err)
	}
	return nil
}

// DeleteAlias implements wxnotify.TemplateService.
func (s *Service) DeleteAlias(ctx context.Context, appID, alias string) error {
	if err := wxnotify.CheckAppAccess(ctx, appID); err != nil {
		return err
	}
	err := s.Store.TemplateAliasDelete(ctx, appID, alias)
	s.invalidate(appID)
	if errors.Is(err, store.ErrNotFound) {
		return &wxnotify.Error{Code: wxnotify.ENOTFOUND, Field: "alias", Message: fmt.Sprintf("app %s has no alias %q", appID, alias)}
	} else if err != nil {
		return fmt.Errorf("delete alias: %w", err)
	}
	return nil
}

// SetTruncation implements wxnotify.TemplateService. Keys are stored
// sorted, each once.
func (s *Service) SetTruncation(ctx context.Context, appID, idOrAlias string, keys []string) (*wxnotify.Template, error) {
	if err := wxnotify.CheckAppAccess(ctx, appID); err != nil {
		return nil, err
	}
	t, err := s.resolve(ctx, appID, idOrAlias)
	if err != nil {
		return nil, err
	}
	for i, key := range keys {
		k := t.Keyword(key)
		if k == nil || k.Type != wxnotify.KeywordThing {
			return nil, wxnotify.FieldErrorf(fmt.Sprintf("keys[%d]", i), "%q is not a thing keyword of template %q (thing keywords: %s)", key, t.Title, thingKeys(t))
		}
	}
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	if keys == nil {
		keys = []string{}
	}
	js, _ := json.Marshal(keys)
	err = s.Store.TemplateSetTruncate(ctx, appID, t.TemplateID, js)
	s.invalidate(appID)
	if err != nil {
		return nil, fmt.Errorf("set truncation: %w", err)
	}
	t.TruncateThing = keys
	return t, nil
}

func thingKeys(t *wxnotify.Template) string {
	var keys []string
	for _, k := range t.Keywords {
		if k.Type == wxnotify.KeywordThing {
			keys = append(keys, k.Key)
		}
	}
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}

// SyncTemplates implements wxnotify.TemplateService.
func (s *Service) SyncTemplates(ctx context.Context, appID string) (added, removed int, err error) {
	if err := wxnotify.CheckAppAccess(ctx, appID); err != nil {
		return 0, 0, err
	}
	return s.sync(ctx, appID)
}

func (s *Service) sync(ctx context.Context, appID string) (added, removed int, err error) {
	defer s.invalidate(appID)
	var subs []wechat.Template
	err = s.withToken(ctx, appID, func(tok string) (err error) {
		subs, err = s.Client.SubscribeTemplateList(ctx, tok)
		return err
	})
	if err != nil {
		return 0, 0, weChatError("list subscribe templates", err)
	}
	legacy, legacyErr := s.legacyTemplates(ctx, appID)
	now := s.now()

	p := &store.TemplateSyncParams{AppID: appID, Kind: string(wxnotify.MessageSubscribe), Now: now}
	for _, w := range subs {
		p.Templates = append(p.Templates, templateRow(&wxnotify.Template{
			AppID: appID, TemplateID: w.PriTmplID, Kind: wxnotify.MessageSubscribe, Title: w.Title,
			Content: w.Content, Keywords: wxnotify.ParseTemplateKeywords(w.Content), Type: w.Type,
		}))
	}
	kinds := []*store.TemplateSyncParams{p}
	if legacyErr == nil {
		lp := &store.TemplateSyncParams{AppID: appID, Kind: string(wxnotify.MessageTemplate), Now: now}
		for _, w := range legacy {
			lp.Templates = append(lp.Templates, templateRow(&wxnotify.Template{
				AppID: appID, TemplateID: w.TemplateID, Kind: wxnotify.MessageTemplate, Title: w.Title,
				Content: w.Content, Keywords: wxnotify.ParseTemplateKeywords(w.Content),
			}))
		}
		kinds = append(kinds, lp)
	} else {
		s.logger().WarnContext(ctx, "legacy templates not synced", "appid", appID, "err", legacyErr)
	}
	for _, p := range kinds {
		res, err := s.Store.TemplateSync(ctx, p)
		if errors.Is(err, store.ErrNotFound) {
			return 0, 0, &wxnotify.Error{Code: wxnotify.ENOTFOUND, Field: "appid", Message: fmt.Sprintf("app %s is not registered", appID)}
		} else if err != nil {
			return 0, 0, fmt.Errorf("sync templates: %w", err)
		}
		added += len(res.Added)
		removed += len(res.Removed)
	}
	// Fail the queued messages of every deleted template, not only those
	// deleted now: a message accepted while a cache still had the template
	// live is caught by the next sync.
	rows, err := s.Store.TemplateList(ctx, appID)
	if err != nil {
		return added, removed, fmt.Errorf("sync templates: %w", err)
	}
	for _, r := range rows {
		if r.Deleted {
			if err := s.failMessages(ctx, appID, r.TemplateID, r.Title, now); err != nil {
				return added, removed, err
			}
		}
	}
	s.logger().InfoContext(ctx, "templates synced", "appid", appID, "subscribe", len(subs), "legacy", len(legacy), "added", added, "removed", removed)
	return added, removed, nil
}

// legacyTemplates reads every page of the app's legacy templates.
func (s *Service) legacyTemplates(ctx context.Context, appID string) ([]wechat.LegacyTemplate, error) {
	const page = 20
	var all []wechat.LegacyTemplate
	for i := range maxLegacyPages {
		var got []wechat.LegacyTemplate
		err := s.withToken(ctx, appID, func(tok string) (err error) {
			got, err = s.Client.TemplateList(ctx, tok, i*page, page)
			return err
		})
		if err != nil {
			return nil, err
		}
		all = append(all, got...)
		if len(got) < page {
			return all, nil
		}
	}
	return nil, fmt.Errorf("more than %d legacy templates", maxLegacyPages*page)
}

// failMessages fails the queued messages of a deleted template.
func (s *Service) failMessages(ctx context.Context, appID, templateID, title string, now time.Time) error {
	reason := fmt.Sprintf("template %s (%s) was deleted on WeChat's side; the message was not sent", templateID, title)
	ids, err := s.Queue.FailTemplate(ctx, appID, templateID, reason, now)
	if err != nil {
		return fmt.Errorf("fail messages of deleted template %s: %w", templateID, err)
	}
	// The acceptances of a deleted template (those just refunded too) can
	// never be sent with: they must not count as usable.
	if _, err := s.Store.CreditKillTemplate(ctx, &store.CreditKillTemplateParams{
		AppID: appID, TemplateID: templateID, Reason: ReasonTemplateDeleted,
	}); err != nil {
		return fmt.Errorf("credits of deleted template %s: %w", templateID, err)
	}
	if len(ids) > 0 {
		s.logger().WarnContext(ctx, "messages of a deleted template failed", "appid", appID, "template_id", templateID, "messages", len(ids))
	}
	return nil
}

// AddTemplate implements wxnotify.TemplateService. The catalog is synced
// after WeChat adds the template, so the result carries WeChat's content.
func (s *Service) AddTemplate(ctx context.Context, appID string, add *wxnotify.TemplateAdd) (*wxnotify.Template, error) {
	if err := wxnotify.CheckAppAccess(ctx, appID); err != nil {
		return nil, err
	}
	if err := add.Validate(); err != nil {
		return nil, err
	}
	var id string
	err := s.withToken(ctx, appID, func(tok string) (err error) {
		if add.Kind == wxnotify.MessageTemplate {
			id, err = s.Client.TemplateAdd(ctx, tok, add.TitleID, add.KeywordIDs)
		} else {
			id, err = s.Client.SubscribeTemplateAdd(ctx, tok, add.TitleID, add.KeywordIDs, add.SceneDesc)
		}
		return err
	})
	if err != nil {
		return nil, weChatError("add template", err)
	}
	if _, _, err := s.sync(ctx, appID); err != nil {
		return nil, err
	}
	t, err := s.resolve(ctx, appID, id)
	if wxnotify.ErrorCode(err) == wxnotify.ENOTFOUND {
		return nil, wxnotify.Errorf(wxnotify.EUNAVAILABLE, "WeChat added template %s but does not list it yet; sync again later", id)
	}
	return t, err
}

// DeleteTemplate implements wxnotify.TemplateService.
func (s *Service) DeleteTemplate(ctx context.Context, appID, idOrAlias string) error {
	if err := wxnotify.CheckAppAccess(ctx, appID); err != nil {
		return err
	}
	t, err := s.resolve(ctx, appID, idOrAlias)
	if err != nil {
		return err
	}
	err = s.withToken(ctx, appID, func(tok string) error {
		if t.Kind == wxnotify.MessageTemplate {
			return s.Client.TemplateDelete(ctx, tok, t.TemplateID)
		}
		return s.Client.SubscribeTemplateDelete(ctx, tok, t.TemplateID)
	})
	var we *wechat.Error
	if errors.As(err, &we) && we.ErrCode == 40037 {
		err = nil // WeChat no longer has it: mark it all the same
	}
	if err != nil {
		return weChatError("delete template", err)
	}
	now := s.now()
	defer s.invalidate(appID)
	if _, err := s.Store.TemplateMarkDeleted(ctx, appID, t.TemplateID, now); err != nil {
		return fmt.Errorf("delete template: %w", err)
	}
	return s.failMessages(ctx, appID, t.TemplateID, t.Title, now)
}

// FindLibraryCategories implements wxnotify.TemplateService.
func (s *Service) FindLibraryCategories(ctx context.Context, appID string) ([]*wxnotify.TemplateCategory, error) {
	if err := wxnotify.CheckAppAccess(ctx, appID); err != nil {
		return nil, err
	}
	cats, err := s.categories(ctx, appID)
	if err != nil {
		return nil, err
	}
	out := make([]*wxnotify.TemplateCategory, len(cats))
	for i, c := range cats {
		out[i] = &wxnotify.TemplateCategory{ID: c.ID, Name: c.Name}
	}
	return out, nil
}

func (s *Service) categories(ctx context.Context, appID string) (cats []wechat.Category, err error) {
	err = s.withToken(ctx, appID, func(tok string) (err error) {
		cats, err = s.Client.SubscribeCategories(ctx, tok)
		return err
	})
	if err != nil {
		return nil, weChatError("list categories", err)
	}
	return cats, nil
}

// FindLibraryTitles implements wxnotify.TemplateService.
func (s *Service) FindLibraryTitles(ctx context.Context, appID string, f wxnotify.LibraryFilter) (*wxnotify.LibraryPage, error) {
	if err := wxnotify.CheckAppAccess(ctx, appID); err != nil {
		return nil, err
	}
	if f.Offset < 0 {
		return nil, wxnotify.FieldErrorf("offset", "offset must not be negative")
	}
	page := &wxnotify.LibraryPage{Titles: []*wxnotify.LibraryTitle{}}
	switch f.Kind {
	case wxnotify.MessageTemplate:
		limit := min(cmp.Or(f.Limit, 20), 20)
		var lib wechat.LibraryTitles
		err := s.withToken(ctx, appID, func(tok string) (err error) {
			lib, err = s.Client.TemplateLibraryList(ctx, tok, f.Offset, limit)
			return err
		})
		if err != nil {
			return nil, weChatError("list the template library", err)
		}
		page.Total = lib.TotalCount
		for _, t := range lib.List {
			page.Titles = append(page.Titles, &wxnotify.LibraryTitle{Kind: wxnotify.MessageTemplate, ID: t.ID, Title: t.Title})
		}
	case "", wxnotify.MessageSubscribe:
		limit := min(cmp.Or(f.Limit, 30), 30)
		ids := f.CategoryIDs
		if len(ids) == 0 {
			cats, err := s.categories(ctx, appID)
			if err != nil {
				return nil, err
			}
			for _, c := range cats {
				ids = append(ids, c.ID)
			}
			if len(ids) == 0 {
				return page, nil
			}
		}
		var lib wechat.PubTemplateTitles
		err := s.withToken(ctx, appID, func(tok string) (err error) {
			lib, err = s.Client.SubscribePubTemplateTitles(ctx, tok, ids, f.Offset, limit)
			return err
		})
		if err != nil {
			return nil, weChatError("list the template library", err)
		}
		page.Total = lib.Count
		for _, t := range lib.Data {
			page.Titles = append(page.Titles, &wxnotify.LibraryTitle{Kind: wxnotify.MessageSubscribe, ID: t.TID, Title: t.Title, Type: t.Type, CategoryID: t.CategoryID})
		}
	default:
		return nil, wxnotify.FieldErrorf("kind", "kind must be %q or %q", wxnotify.MessageSubscribe, wxnotify.MessageTemplate)
	}
	return page, nil
}

// FindLibraryKeywords implements wxnotify.TemplateService.
func (s *Service) FindLibraryKeywords(ctx context.Context, appID string, kind wxnotify.MessageKind, titleID string) ([]*wxnotify.LibraryKeyword, error) {
	if err := wxnotify.CheckAppAccess(ctx, appID); err != nil {
		return nil, err
	}
	if titleID == "" {
		return nil, wxnotify.FieldErrorf("tid", "tid required")
	}
	var out []*wxnotify.LibraryKeyword
	err := s.withToken(ctx, appID, func(tok string) error {
		out = out[:0]
		switch kind {
		case wxnotify.MessageTemplate:
			lib, err := s.Client.TemplateLibraryGet(ctx, tok, titleID)
			if err != nil {
				return err
			}
			for _, k := range lib.KeywordList {
				out = append(out, &wxnotify.LibraryKeyword{ID: k.KeywordID, Name: k.Name, Example: k.Example})
			}
		case "", wxnotify.MessageSubscribe:
			kws, err := s.Client.SubscribePubTemplateKeywords(ctx, tok, titleID)
			if err != nil {
				return err
			}
			for _, k := range kws {
				out = append(out, &wxnotify.LibraryKeyword{ID: k.KID, Name: k.Name, Example: k.Example, Rule: wxnotify.KeywordType(k.Rule)})
			}
		default:
			return wxnotify.FieldErrorf("kind", "kind must be %q or %q", wxnotify.MessageSubscribe, wxnotify.MessageTemplate)
		}
		return nil
	})
	if err != nil {
		return nil, weChatError("read library title "+titleID, err)
	}
	if out == nil {
		out = []*wxnotify.LibraryKeyword{}
	}
	return out, nil
}

// SyncAll syncs every app's templates from WeChat: the template-sync job.
// One app's failure is logged and does not stop the others; the error is
// the database's.
func (s *Service) SyncAll(ctx context.Context) error {
	return s.syncAll(wxnotify.NewContextWithAPIKey(ctx, syncKey))
}

func (s *Service) syncAll(ctx context.Context) error {
	apps, err := s.Store.AppList(ctx)
	if err != nil {
		return fmt.Errorf("template sync: list apps: %w", err)
	}
	for _, a := range apps {
		if ctx.Err() != nil {
			return nil
		}
		added, removed, err := s.sync(ctx, a.AppID)
		if err != nil && ctx.Err() == nil {
			s.logger().WarnContext(ctx, "template sync failed", "appid", a.AppID, "err", err)
		}
		if s.OnSync != nil {
			s.OnSync(a.AppID, added, removed, err)
		}
	}
	return nil
}

// withToken calls f with the app's access_token; when WeChat rejects the
// token it is invalidated and f is called once more with the next one.
func (s *Service) withToken(ctx context.Context, appID string, f func(token string) error) error {
	tok, err := s.Tokens.Token(ctx, appID)
	if err != nil {
		return err
	}
	err = f(tok.Value.Reveal())
	if wechat.ClassOf(err) != wechat.ClassToken {
		return err
	}
	tok, err = s.Tokens.Invalidate(ctx, appID, tok.Value)
	if err != nil {
		return err
	}
	return f(tok.Value.Reveal())
}

// weChatError turns an error of a WeChat call into a coded error the
// caller can act on, keeping the cause for the logs. Domain errors (the
// token service's) pass unchanged.
func weChatError(op string, err error) error {
	var de *wxnotify.Error
	if errors.As(err, &de) {
		return err
	}
	var we *wechat.Error
	if errors.As(err, &we) {
		msg := fmt.Sprintf("%s: WeChat answered errcode %d (%s)", op, we.ErrCode, strings.TrimSpace(we.ErrMsg))
		switch we.ErrCode {
		case 200012: // the account has the maximum of templates
			return errors.Join(wxnotify.Errorf(wxnotify.ECONFLICT, "%s: the account already has as many templates as WeChat allows (25); delete one first", op), err)
		case 200014, 200016, 200017, 200018, 200019, 200020, 200021, 47001, 47003:
			return errors.Join(wxnotify.Errorf(wxnotify.EINVALID, "%s", msg), err)
		case 40037:
			return errors.Join(&wxnotify.Error{Code: wxnotify.ENOTFOUND, Field: "template_id", Message: msg}, err)
		case 48001, 48002:
			return errors.Join(wxnotify.Errorf(wxnotify.EFORBIDDEN, "%s", msg), err)
		}
		return errors.Join(wxnotify.Errorf(wxnotify.EUNAVAILABLE, "%s", msg), err)
	}
	return errors.Join(wxnotify.Errorf(wxnotify.EUNAVAILABLE, "%s: WeChat could not be reached; retry later", op), err)
}
