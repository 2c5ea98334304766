package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
)

// Defaults of the Service.
const (
	// DefaultInsertBatch is the most accepted messages committed together.
	DefaultInsertBatch = 1024
	// DefaultFlushers is how many group commits run at once; SQLite has one
	// writer, so more do not help there (docs/decisions.md).
	DefaultFlushers = 2
)

// Service accepts messages and reports on them; it implements
// wxnotify.MessageService. Accepting writes nothing but the message row:
// the pipeline does the rest.
type Service struct {
	// Queue stores accepted messages and cancels them; Store reads them.
	Queue  *queue.Queue
	Store  store.Executor
	Apps   wxnotify.AppService
	Now    func() time.Time
	Logger *slog.Logger
	// Wake, when set, is called after messages are stored, so an idle
	// pipeline in this process starts at once instead of at its next poll.
	Wake func()
	// InsertBatch and Flushers tune the group commit (0: defaults).
	InsertBatch int
	Flushers    int
	// Templates, when set, checks each message against its template's
	// catalog entry (aliases, keywords, truncation) as it is accepted.
	Templates interface {
		Validate(ctx context.Context, m *wxnotify.Message) error
	}

	startOnce sync.Once
	reqs      chan *insertReq
	appsMu    sync.Mutex
	apps      map[string]time.Time // appid → known until
}

var _ wxnotify.MessageService = (*Service)(nil)

type insertReq struct {
	p    *queue.InsertParams
	done chan insertResp
}

type insertResp struct {
	res store.MessageInsertResult
	err error
}

// Start runs the group-commit flushers until ctx ends. Enqueue starts them
// on first use with a background context when Start was not called.
func (s *Service) Start(ctx context.Context) {
	s.startOnce.Do(func() {
		batch := s.InsertBatch
		if batch <= 0 {
			batch = DefaultInsertBatch
		}
		n := s.Flushers
		if n <= 0 {
			n = DefaultFlushers
		}
		if s.Queue.Store.Capabilities().SingleWriter {
			n = 1
		}
		s.reqs = make(chan *insertReq, 4*batch)
		for range n {
			go s.flush(ctx, batch)
		}
	})
}

// flush is one group-commit loop: it blocks for the first request, takes
// every request already waiting up to batch, commits them in one
// transaction, and answers each.
func (s *Service) flush(ctx context.Context, batch int) {
	reqs := make([]*insertReq, 0, batch)
	ps := make([]*queue.InsertParams, 0, batch)
	for {
		reqs, ps = reqs[:0], ps[:0]
		select {
		case <-ctx.Done():
			return
		case r := <-s.reqs:
			reqs = append(reqs, r)
		}
	fill:
		for len(reqs) < batch {
			select {
			case r := <-s.reqs:
				reqs = append(reqs, r)
			default:
				break fill
			}
		}
		for _, r := range reqs {
			ps = append(ps, r.p)
		}
		res, err := s.Queue.Insert(context.WithoutCancel(ctx), ps)
		if err != nil && len(reqs) > 1 {
			// Isolate the request at fault: one bad row must not fail the
			// others that shared its transaction.
			for _, r := range reqs {
				one, err := s.Queue.Insert(context.WithoutCancel(ctx), []*queue.InsertParams{r.p})
				if err != nil {
					r.done <- insertResp{err: err}
				} else {
					r.done <- insertResp{res: one[0]}
				}
			}
			continue
		}
		for i, r := range reqs {
			if err != nil {
				r.done <- insertResp{err: err}
			} else {
				r.done <- insertResp{res: res[i]}
			}
		}
		if s.Wake != nil {
			s.Wake()
		}
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Enqueue validates and durably stores a message.
func (s *Service) Enqueue(ctx context.Context, m *wxnotify.Message) (bool, error) {
	if err := wxnotify.CheckAppAccess(ctx, m.AppID); err != nil {
		return false, err
	}
	now := s.now()
	// Templates runs before Prepare: its truncation must shorten a value
	// before Prepare's keyword rules would refuse it.
	if s.Templates != nil {
		if err := s.Templates.Validate(ctx, m); err != nil {
			return false, err
		}
	}
	if err := Prepare(m, now); err != nil {
		return false, err
	}
	if err := s.checkApp(ctx, m.AppID, now); err != nil {
		return false, err
	}
	p, err := insertParams(m)
	if err != nil {
		return false, err
	}
	res, err := s.insert(ctx, p)
	if err != nil {
		return false, fmt.Errorf("store message: %w", err)
	}
	m.ID = res.ID
	if !res.Created {
		// A retried request: answer with the first message as stored.
		first, err := s.Store.MessageGet(ctx, res.ID)
		if err != nil {
			return false, fmt.Errorf("get message: %w", err)
		}
		if diff := requestDiff(first, &p.MessageInsertParams); diff != "" {
			return false, &wxnotify.Error{Code: wxnotify.ECONFLICT, Field: "idempotency_key", Message: fmt.Sprintf(
				"idempotency key %q was used for message %d, whose %s differs: a retry must repeat the request; a new message needs a new key",
				m.IdempotencyKey, first.ID, diff)}
		}
		*m = *messageFromRow(first)
		return false, nil
	}
	m.State, m.CreatedAt, m.UpdatedAt = wxnotify.MessageQueued, now.UTC(), now.UTC()
	return true, nil
}

// EnqueueMany stores several messages (a broadcast chunk) in one commit.
// Every message must have passed Prepare; access is checked per app.
func (s *Service) EnqueueMany(ctx context.Context, ms []*wxnotify.Message) error {
	ps := make([]*queue.InsertParams, len(ms))
	for i, m := range ms {
		if err := wxnotify.CheckAppAccess(ctx, m.AppID); err != nil {
			return err
		}
		if s.Templates != nil {
			if err := s.Templates.Validate(ctx, m); err != nil {
				return err
			}
		}
		p, err := insertParams(m)
		if err != nil {
			return err
		}
		ps[i] = p
	}
	res, err := s.Queue.Insert(ctx, ps)
	if err != nil {
		return fmt.Errorf("store messages: %w", err)
	}
	for i, r := range res {
		ms[i].ID = r.ID
	}
	if s.Wake != nil {
		s.Wake()
	}
	return nil
}

func (s *Service) insert(ctx context.Context, p *queue.InsertParams) (store.MessageInsertResult, error) {
	s.Start(context.Background())
	r := &insertReq{p: p, done: make(chan insertResp, 1)}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return store.MessageInsertResult{}, ctx.Err()
	}
	// Once queued the insert happens whether or not the caller waits; wait
	// for it so the caller's 202 means durable.
	resp := <-r.done
	return resp.res, resp.err
}

// checkApp returns ENOTFOUND for an unknown app, caching known apps briefly.
func (s *Service) checkApp(ctx context.Context, appID string, now time.Time) error {
	s.appsMu.Lock()
	until, ok := s.apps[appID]
	s.appsMu.Unlock()
	if ok && now.Before(until) {
		return nil
	}
	if _, err := s.Apps.FindAppByID(ctx, appID); err != nil {
		if wxnotify.ErrorCode(err) == wxnotify.ENOTFOUND {
			return &wxnotify.Error{Code: wxnotify.ENOTFOUND, Field: "appid", Message: fmt.Sprintf("app %s is not registered", appID)}
		}
		return err
	}
	s.appsMu.Lock()
	if s.apps == nil {
		s.apps = make(map[string]time.Time)
	}
	s.apps[appID] = now.Add(time.Minute)
	s.appsMu.Unlock()
	return nil
}

// FindMessageByID returns a message and its attempts.
func (s *Service) FindMessageByID(ctx context.Context, id int64) (*wxnotify.Message, []*wxnotify.Attempt, error) {
	row, err := s.Store.MessageGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "message %d not found", id)
	} else if err != nil {
		return nil, nil, fmt.Errorf("get message: %w", err)
	}
	// A caller that may not act for the app must not learn the message exists.
	if err := wxnotify.CheckAppAccess(ctx, row.AppID); err != nil {
		if wxnotify.ErrorCode(err) == wxnotify.EFORBIDDEN {
			return nil, nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "message %d not found", id)
		}
		return nil, nil, err
	}
	rows, err := s.Store.MessageAttempts(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("get attempts: %w", err)
	}
	attempts := make([]*wxnotify.Attempt, len(rows))
	for i, a := range rows {
		attempts[i] = &wxnotify.Attempt{MessageID: a.MessageID, N: a.N, At: a.At, ErrCode: a.ErrCode, ErrMsg: a.ErrMsg, Class: a.Class, LatencyMS: a.LatencyMS}
	}
	return messageFromRow(row), attempts, nil
}

// FindMessages lists the messages of the apps the caller may see.
func (s *Service) FindMessages(ctx context.Context, f wxnotify.MessageFilter) ([]*wxnotify.Message, error) {
	k := wxnotify.APIKeyFromContext(ctx)
	if k == nil {
		return nil, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "API key required")
	}
	p := &store.MessageListParams{Limit: f.Limit}
	if p.Limit <= 0 {
		p.Limit = 100
	}
	p.Limit = min(p.Limit, 1000)
	if f.AppID != nil {
		if err := wxnotify.CheckAppAccess(ctx, *f.AppID); err != nil {
			return nil, err
		}
		p.AppIDs = []string{*f.AppID}
	} else if !k.CanAccess(wxnotify.AllApps) {
		p.AppIDs = k.Apps
	}
	if f.OpenID != nil {
		p.OpenID = *f.OpenID
	}
	if f.State != nil {
		p.State = string(*f.State)
	}
	if f.BroadcastID != nil {
		p.BroadcastID = *f.BroadcastID
	}
	p.BeforeID = f.AfterID
	rows, err := s.Store.MessageList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	out := make([]*wxnotify.Message, len(rows))
	for i, r := range rows {
		out[i] = messageFromRow(r)
	}
	return out, nil
}

// CancelMessage cancels a message not yet being sent.
func (s *Service) CancelMessage(ctx context.Context, id int64) (*wxnotify.Message, error) {
	if _, _, err := s.FindMessageByID(ctx, id); err != nil {
		return nil, err
	}
	row, err := s.Queue.Cancel(ctx, id, time.Time{})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "message %d not found", id)
	case errors.Is(err, store.ErrConflict):
		state := "sending"
		if row != nil {
			state = row.State
		}
		return nil, wxnotify.Errorf(wxnotify.ECONFLICT, "message %d is %s and can no longer be cancelled", id, state)
	case err != nil:
		return nil, fmt.Errorf("cancel message: %w", err)
	}
	return messageFromRow(row), nil
}

// RetryMessage sends a failed, no_credit or expired message again
// (queue.Retry), waking the pipeline.
func (s *Service) RetryMessage(ctx context.Context, id int64) (*wxnotify.Message, error) {
	if _, _, err := s.FindMessageByID(ctx, id); err != nil {
		return nil, err
	}
	row, err := s.Queue.Retry(ctx, id, time.Time{})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "message %d not found", id)
	case errors.Is(err, store.ErrConflict):
		state := "sending"
		if row != nil {
			state = row.State
		}
		return nil, wxnotify.Errorf(wxnotify.ECONFLICT, "message %d is %s: only failed, no_credit and expired messages can be retried", id, state)
	case err != nil:
		return nil, fmt.Errorf("retry message: %w", err)
	}
	if s.Wake != nil {
		s.Wake()
	}
	return messageFromRow(row), nil
}

// insertParams is the row of an accepted message. Its Now and, unless
// SendAt is set, its RunAt are left zero: the queue takes them from the
// database's clock, so this instance's clock never shifts a due time.
func insertParams(m *wxnotify.Message) (*queue.InsertParams, error) {
	data, err := json.Marshal(m.Data)
	if err != nil {
		return nil, err
	}
	return &queue.InsertParams{MessageInsertParams: store.MessageInsertParams{
		AppID: m.AppID, OpenID: m.OpenID, Kind: string(m.Kind), TemplateID: m.TemplateID,
		Data: data, Page: m.Page, MiniprogramState: m.MiniprogramState, Lang: m.Lang,
		EmphasisKeyword: m.EmphasisKeyword, RunAt: m.SendAt, ExpiresAt: m.ExpiresAt,
		WaitForCredit: m.WaitForCredit, IdempotencyKey: m.IdempotencyKey,
		BroadcastID: m.BroadcastID, ScheduleID: m.ScheduleID,
	}}, nil
}

// requestDiff names the first field in which a request differs from the
// message stored under its idempotency key, or returns "" for a true retry.
// Times are not compared: a retry without send_at is due later than the
// first request was.
func requestDiff(first *store.Message, p *store.MessageInsertParams) string {
	switch {
	case first.OpenID != p.OpenID:
		return "openid"
	case first.Kind != p.Kind:
		return "kind"
	case first.TemplateID != p.TemplateID:
		return "template_id"
	case first.Page != p.Page:
		return "page"
	case first.MiniprogramState != p.MiniprogramState:
		return "miniprogram_state"
	case first.Lang != p.Lang:
		return "lang"
	case first.EmphasisKeyword != p.EmphasisKeyword:
		return "emphasis_keyword"
	case first.WaitForCredit != p.WaitForCredit:
		return "wait_for_credit"
	}
	// The stored data went through the database (PostgreSQL's jsonb
	// reorders keys): compare values, not bytes.
	var a, b map[string]string
	if json.Unmarshal(first.Data, &a) != nil || json.Unmarshal(p.Data, &b) != nil || !maps.Equal(a, b) {
		return "data"
	}
	return ""
}

func messageFromRow(r *store.Message) *wxnotify.Message {
	m := &wxnotify.Message{
		ID: r.ID, AppID: r.AppID, OpenID: r.OpenID, Kind: wxnotify.MessageKind(r.Kind), TemplateID: r.TemplateID,
		Page: r.Page, MiniprogramState: r.MiniprogramState, Lang: r.Lang, EmphasisKeyword: r.EmphasisKeyword,
		SendAt: r.RunAt, ExpiresAt: r.ExpiresAt, WaitForCredit: r.WaitForCredit, IdempotencyKey: r.IdempotencyKey,
		BroadcastID: r.BroadcastID, ScheduleID: r.ScheduleID, State: wxnotify.MessageState(r.State),
		Attempts: r.Attempts, MsgID: r.MsgID, LastError: r.LastError, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	_ = json.Unmarshal(r.Data, &m.Data)
	return m
}

// Prepare checks a message before it is stored and fills its defaults:
// kind subscribe, expiry from the TTL. Every data value is checked against
// the rule of its keyword type (the type is in the keyword's name), so data
// WeChat would reject with 47003 is refused now, naming the field.
func Prepare(m *wxnotify.Message, now time.Time) error {
	if m.Kind == "" {
		m.Kind = wxnotify.MessageSubscribe
	}
	if err := m.CheckText(); err != nil {
		return err
	}
	switch {
	case m.AppID == "":
		return wxnotify.FieldErrorf("appid", "appid required")
	case m.OpenID == "":
		return wxnotify.FieldErrorf("openid", "openid required: the recipient")
	case len(m.OpenID) > 128:
		return wxnotify.FieldErrorf("openid", "openid too long")
	case m.Kind != wxnotify.MessageSubscribe && m.Kind != wxnotify.MessageTemplate:
		return wxnotify.FieldErrorf("kind", "kind must be %q or %q", wxnotify.MessageSubscribe, wxnotify.MessageTemplate)
	case m.TemplateID == "":
		return wxnotify.FieldErrorf("template_id", "template_id required")
	case len(m.TemplateID) > 128:
		return wxnotify.FieldErrorf("template_id", "template_id too long")
	case len(m.Data) == 0:
		return wxnotify.FieldErrorf("data", "data required: one value per keyword of the template")
	case len(m.Data) > wxnotify.MaxDataKeys:
		return wxnotify.FieldErrorf("data", "at most %d keywords", wxnotify.MaxDataKeys)
	case len(m.Page) > wxnotify.MaxPageLen:
		return wxnotify.FieldErrorf("page", "page longer than %d bytes", wxnotify.MaxPageLen)
	case len(m.IdempotencyKey) > wxnotify.MaxIdempotencyKeyLen:
		return wxnotify.FieldErrorf("idempotency_key", "longer than %d bytes", wxnotify.MaxIdempotencyKeyLen)
	}
	switch m.MiniprogramState {
	case "", "developer", "trial", "formal":
	default:
		return wxnotify.FieldErrorf("miniprogram_state", "must be developer, trial or formal")
	}
	switch m.Lang {
	case "", "zh_CN", "en_US", "zh_HK", "zh_TW":
	default:
		return wxnotify.FieldErrorf("lang", "must be zh_CN, en_US, zh_HK or zh_TW")
	}
	if m.Kind == wxnotify.MessageSubscribe && m.EmphasisKeyword != "" {
		return wxnotify.FieldErrorf("emphasis_keyword", "only legacy template messages (kind template) have an emphasis keyword")
	}
	for key, value := range m.Data {
		field := "data." + key
		typ, ok := wxnotify.ParseKeywordName(key)
		if !ok {
			return wxnotify.FieldErrorf(field, "keyword names are a type and a number, like thing1 or keyword2")
		}
		if m.Kind == wxnotify.MessageTemplate && typ != wxnotify.KeywordLegacy {
			return wxnotify.FieldErrorf(field, "legacy template messages use keyword1, keyword2, …")
		}
		if len(value) > wxnotify.MaxDataValueLen {
			return wxnotify.FieldErrorf(field, "value longer than %d bytes", wxnotify.MaxDataValueLen)
		}
		if msg := wxnotify.ValidateKeyword(typ, value); msg != "" {
			return wxnotify.FieldErrorf(field, "%s", msg)
		}
	}
	if m.EmphasisKeyword != "" {
		key := strings.TrimSuffix(m.EmphasisKeyword, ".DATA")
		if _, ok := m.Data[key]; !ok {
			return wxnotify.FieldErrorf("emphasis_keyword", "must name a keyword of data, like keyword1.DATA")
		}
	}
	if !m.SendAt.IsZero() && m.SendAt.After(now.Add(wxnotify.MaxMessageTTL)) {
		return wxnotify.FieldErrorf("send_at", "at most %s ahead", wxnotify.MaxMessageTTL)
	}
	if m.ExpiresAt.IsZero() {
		start := now
		if m.SendAt.After(now) {
			start = m.SendAt
		}
		m.ExpiresAt = start.Add(wxnotify.DefaultMessageTTL)
	} else if !m.ExpiresAt.After(now) || (!m.SendAt.IsZero() && !m.ExpiresAt.After(m.SendAt)) {
		return wxnotify.FieldErrorf("ttl", "the message would expire before it is due")
	}
	return nil
}
