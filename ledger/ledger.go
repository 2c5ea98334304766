// Package ledger is the ledger of send credits: it records form_ids,
// prepay_ids and subscribe acceptances, spends the oldest usable one exactly
// once, and purges what can no longer be sent with. It also takes WeChat's
// pushed subscribe events.
//
// Double counting. One acceptance in wx.requestSubscribeMessage reaches
// wxnotify twice when the app has push configured: the page reports the
// result object (RecordSubscribeResult) and WeChat pushes
// subscribe_msg_popup_event (HandleEvents). Nothing links the two (the
// result object has no id), so only one of them may grant. Which one is
// Service.PopupEventsGrant:
//
//   - false (default): the page's report grants credits and counts
//     rejections; popup events are stored for audit only. This works for
//     apps without push, and the page knows the result before it sends the
//     order, so the credit exists when the backend enqueues the message.
//   - true: popup events grant and count; the page's accept and reject
//     answers are ignored (its "ban" and "filter" answers are still counted,
//     since no event carries them). Use it when pages cannot be trusted to
//     report, or are old versions that do not.
//
// Pushed events are stored once each (WeChat repeats a push it got no
// timely answer to), and only a newly stored event has effects, so a repeat
// never grants twice. The event row is written before its effect: if the
// effect then fails, the repeat is ignored and the credit is lost, which
// errs on the side of not sending.
package ledger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

// Defaults of the Service's tunables; the zero value of a field means these.
const (
	// DefaultPurgeInterval is how often the credit-purge job runs.
	DefaultPurgeInterval = time.Hour
	// DefaultRefundWindow is how long a used-up credit is kept after its
	// last use, so that RefundCredit still finds it.
	DefaultRefundWindow = time.Hour
)

// Limits on reported values.
const (
	// MaxValueLen bounds a form_id or prepay_id, in bytes. WeChat's are 32
	// to 40 characters.
	MaxValueLen = 128
	// MaxIDLen bounds an openid, a template id and a source, in bytes.
	MaxIDLen = 128
	// MaxSubscribeResultLen bounds the templates of one subscribe result
	// (WeChat allows 3 per wx.requestSubscribeMessage call).
	MaxSubscribeResultLen = 20
	// MaxEventsPerCall bounds one HandleEvents call.
	MaxEventsPerCall = 100
)

// Credit sources.
const (
	SourceMiniProgram = "miniprogram"
	SourceEvent       = "event"
)

// Reasons a credit dies, besides WeChat's errcodes.
const ReasonSubscriptionCancelled = "subscription_cancelled"

// Service implements wxnotify.CreditService and wxnotify.EventService over a
// store. Store is required; every other field has a working zero value.
type Service struct {
	Store store.Executor
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// SafetyMargin is cut from the end of a legacy credit's life: a credit
	// expiring within it is not spent (it is purged at its real expiry).
	// Default wxnotify.DefaultCreditSafetyMargin.
	SafetyMargin time.Duration
	// RefundWindow: see DefaultRefundWindow.
	RefundWindow time.Duration
	// PopupEventsGrant selects subscribe_msg_popup_event, instead of the
	// page's report, as the record of subscribe answers (see the package
	// comment). Default false.
	PopupEventsGrant bool
	// Logger receives the purge's results and failures. Default: discard.
	Logger *slog.Logger
}

var (
	_ wxnotify.CreditService = (*Service)(nil)
	_ wxnotify.EventService  = (*Service)(nil)
)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Service) cutoff(now time.Time) time.Time {
	return now.Add(orDefault(s.SafetyMargin, wxnotify.DefaultCreditSafetyMargin))
}

// AddFormIDs implements wxnotify.CreditService. A form_id is usable for
// FormIDLifetime, a prepay_id as long, for PrepayIDUses messages.
func (s *Service) AddFormIDs(ctx context.Context, appID, openID string, kind wxnotify.CreditKind, values []string, source string) (int, error) {
	source = cmp.Or(source, SourceMiniProgram)
	if err := validateUser(appID, openID); err != nil {
		return 0, err
	}
	if err := validateID("source", source); err != nil {
		return 0, err
	}
	uses := 0
	switch kind {
	case wxnotify.CreditFormID:
		uses = wxnotify.FormIDUses
	case wxnotify.CreditPrepayID:
		uses = wxnotify.PrepayIDUses
	default:
		return 0, wxnotify.FieldErrorf("kind", "kind must be %q or %q", wxnotify.CreditFormID, wxnotify.CreditPrepayID)
	}
	if len(values) > wxnotify.MaxFormIDsPerReport {
		return 0, wxnotify.FieldErrorf("values", "at most %d values per report", wxnotify.MaxFormIDsPerReport)
	}
	now := s.now()
	credits := make([]*store.CreditInsertParams, 0, len(values))
	for i, v := range values {
		switch {
		case v == wxnotify.MockFormID:
			continue
		case v == "":
			return 0, wxnotify.FieldErrorf(fmt.Sprintf("values[%d]", i), "empty value")
		case len(v) > MaxValueLen:
			return 0, wxnotify.FieldErrorf(fmt.Sprintf("values[%d]", i), "value longer than %d bytes", MaxValueLen)
		}
		credits = append(credits, &store.CreditInsertParams{
			AppID: appID, OpenID: openID, Kind: string(kind), Value: wxnotify.Secret(v), Uses: uses,
			ObtainedAt: now, ExpiresAt: now.Add(wxnotify.FormIDLifetime), Source: source,
		})
	}
	added, err := s.insert(ctx, appID, credits)
	if err != nil {
		return 0, err
	}
	return added, nil
}

// RecordSubscribeResult implements wxnotify.CreditService. The result may be
// the whole object wx.requestSubscribeMessage returned: its "errMsg" key is
// ignored. An unknown answer is EINVALID and nothing is recorded.
func (s *Service) RecordSubscribeResult(ctx context.Context, appID, openID string, result map[string]wxnotify.SubscribeChoice, source string) error {
	source = cmp.Or(source, SourceMiniProgram)
	if err := validateUser(appID, openID); err != nil {
		return err
	}
	if err := validateID("source", source); err != nil {
		return err
	}
	templates := make([]string, 0, len(result))
	for tpl := range result {
		if tpl != "errMsg" {
			templates = append(templates, tpl)
		}
	}
	if len(templates) > MaxSubscribeResultLen {
		return wxnotify.FieldErrorf("result", "at most %d templates per result", MaxSubscribeResultLen)
	}
	slices.Sort(templates)
	now := s.now()
	var (
		credits []*store.CreditInsertParams
		choices []*store.SubscribeChoiceAddParams
	)
	for _, tpl := range templates {
		field := "result." + tpl
		if err := validateID(field, tpl); err != nil {
			return err
		}
		choice, _ := wxnotify.ParseSubscribeChoice(string(result[tpl]))
		switch choice {
		case wxnotify.SubscribeAccept, wxnotify.SubscribeReject:
			if s.PopupEventsGrant {
				continue // popup events record these
			}
		case wxnotify.SubscribeBan, wxnotify.SubscribeFilter:
		default:
			return wxnotify.FieldErrorf(field, "answer must be accept, reject, ban or filter")
		}
		if choice == wxnotify.SubscribeAccept {
			c, err := s.grant(ctx, appID, openID, tpl, now, source)
			if err != nil {
				return err
			}
			if c != nil {
				credits = append(credits, c)
			}
		} else {
			choices = append(choices, &store.SubscribeChoiceAddParams{
				AppID: appID, TemplateID: tpl, Choice: string(choice), Count: 1, Now: now,
			})
		}
	}
	if _, err := s.insert(ctx, appID, credits); err != nil {
		return err
	}
	for _, c := range choices {
		if err := s.addChoice(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// SpendCredit implements wxnotify.CreditService.
func (s *Service) SpendCredit(ctx context.Context, appID, openID, templateID string) (*wxnotify.Credit, error) {
	if err := validateUser(appID, openID); err != nil {
		return nil, err
	}
	kind := wxnotify.MessageTemplate
	if templateID != "" {
		kind = wxnotify.MessageSubscribe
	}
	ks, _ := wxnotify.CreditKindsFor(kind)
	kinds := wxnotify.CreditKindNames(ks)
	now := s.now()
	c, err := s.Store.CreditSpend(ctx, &store.CreditSpendParams{
		AppID: appID, OpenID: openID, TemplateID: templateID, Kinds: kinds, Cutoff: s.cutoff(now), Now: now,
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "no usable credit for the user")
	} else if err != nil {
		return nil, fmt.Errorf("spend credit: %w", err)
	}
	return creditFromRow(c), nil
}

// RefundCredit implements wxnotify.CreditService. Refunding a credit that
// has all its uses (or a long-term one) changes nothing. Returns ENOTFOUND if
// the credit does not exist (or was purged).
func (s *Service) RefundCredit(ctx context.Context, id int64) error {
	if err := s.Store.CreditRefund(ctx, id); errors.Is(err, store.ErrNotFound) {
		return wxnotify.Errorf(wxnotify.ENOTFOUND, "credit %d not found", id)
	} else if err != nil {
		return fmt.Errorf("refund credit: %w", err)
	}
	return nil
}

// KillCredit implements wxnotify.CreditService. Returns EINVALID without a
// reason, ENOTFOUND if the credit does not exist.
func (s *Service) KillCredit(ctx context.Context, id int64, reason string) error {
	if err := validateID("reason", reason); err != nil {
		return err
	}
	if err := s.Store.CreditKill(ctx, id, reason); errors.Is(err, store.ErrNotFound) {
		return wxnotify.Errorf(wxnotify.ENOTFOUND, "credit %d not found", id)
	} else if err != nil {
		return fmt.Errorf("kill credit: %w", err)
	}
	return nil
}

// PurgeCredits implements wxnotify.CreditService: it deletes credits past
// their real expiry (not the safety margin), dead ones, and used-up ones
// whose last use is older than RefundWindow.
func (s *Service) PurgeCredits(ctx context.Context) (int64, error) {
	now := s.now()
	n, err := s.Store.CreditPurge(ctx, &store.CreditPurgeParams{
		Now: now, SpentBefore: now.Add(-orDefault(s.RefundWindow, DefaultRefundWindow)),
	})
	if err != nil {
		return n, fmt.Errorf("purge credits: %w", err)
	}
	return n, nil
}

// CreditStocks implements wxnotify.CreditService. Only usable credits are
// counted (alive, uses left, not within the safety margin of expiry).
func (s *Service) CreditStocks(ctx context.Context, f wxnotify.CreditFilter) ([]*wxnotify.CreditStock, error) {
	now := s.now()
	p := &store.CreditStocksParams{Cutoff: s.cutoff(now)}
	if f.AppID != nil {
		p.AppID = *f.AppID
	}
	if f.OpenID != nil {
		p.OpenID = *f.OpenID
	}
	if f.TemplateID != nil {
		p.TemplateID = *f.TemplateID
	}
	if f.Kind != nil {
		p.Kind = string(*f.Kind)
	}
	if f.ExpiringWith != nil {
		if *f.ExpiringWith <= 0 {
			return nil, wxnotify.FieldErrorf("expiring_within", "must be positive")
		}
		p.ExpiringBefore = now.Add(*f.ExpiringWith)
	}
	rows, err := s.Store.CreditStocks(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("credit stocks: %w", err)
	}
	stocks := make([]*wxnotify.CreditStock, len(rows))
	for i, r := range rows {
		stocks[i] = &wxnotify.CreditStock{
			AppID: r.AppID, OpenID: r.OpenID, Kind: wxnotify.CreditKind(r.Kind), TemplateID: r.TemplateID,
			Credits: r.Credits, Uses: r.Uses, Rejections: r.Rejections,
		}
	}
	return stocks, nil
}

// HandleEvents implements wxnotify.EventService. Every event is stored once;
// a newly stored one then has its effect:
//
//   - subscribe_msg_popup_event: with PopupEventsGrant, "accept" grants one
//     subscribe credit (source "event") and "reject" is counted; otherwise
//     nothing more (see the package comment).
//   - subscribe_msg_change_event "reject": the user's credits for the
//     template are killed.
//   - subscribe_msg_sent_event: nothing more; the delivery pipeline matches
//     it to its message by msgid (store.EventListByMsgID).
//
// Events of other types are stored only. All events are validated before
// any is stored (EINVALID names "events[i].field"); they are then handled
// in order, and the first failure is returned.
func (s *Service) HandleEvents(ctx context.Context, events []*wxnotify.Event) error {
	if len(events) > MaxEventsPerCall {
		return wxnotify.FieldErrorf("events", "at most %d events per call", MaxEventsPerCall)
	}
	for i, e := range events {
		if err := validateEvent(e); err != nil {
			var we *wxnotify.Error
			if errors.As(err, &we) {
				we.Field = strings.TrimSuffix(fmt.Sprintf("events[%d].%s", i, we.Field), ".")
			}
			return err
		}
	}
	now := s.now()
	for _, e := range events {
		if err := s.handleEvent(ctx, e, now); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) handleEvent(ctx context.Context, e *wxnotify.Event, now time.Time) error {
	created, err := s.Store.EventInsert(ctx, &store.Event{
		AppID: e.AppID, Type: e.Type, OpenID: e.OpenID, TemplateID: e.TemplateID, Status: e.Status,
		PopupScene: e.PopupScene, MsgID: e.MsgID, ErrorCode: e.ErrorCode, CreateTime: e.CreateTime, ReceivedAt: now,
	})
	if errors.Is(err, store.ErrNotFound) {
		return wxnotify.Errorf(wxnotify.ENOTFOUND, "app %s not found", e.AppID)
	} else if err != nil {
		return fmt.Errorf("store event: %w", err)
	} else if !created {
		return nil // a repeated push
	}
	switch e.Type {
	case wxnotify.EventSubscribePopup:
		if !s.PopupEventsGrant || e.TemplateID == "" {
			return nil
		}
		choice, _ := wxnotify.ParseSubscribeChoice(e.Status)
		switch choice {
		case wxnotify.SubscribeAccept:
			c, err := s.grant(ctx, e.AppID, e.OpenID, e.TemplateID, now, SourceEvent)
			if err != nil || c == nil {
				return err
			}
			_, err = s.insert(ctx, e.AppID, []*store.CreditInsertParams{c})
			return err
		case wxnotify.SubscribeReject:
			return s.addChoice(ctx, &store.SubscribeChoiceAddParams{
				AppID: e.AppID, TemplateID: e.TemplateID, Choice: string(wxnotify.SubscribeReject), Count: 1, Now: now,
			})
		}
	case wxnotify.EventSubscribeChange:
		if e.TemplateID == "" {
			return nil
		}
		if choice, _ := wxnotify.ParseSubscribeChoice(e.Status); choice == wxnotify.SubscribeAccept {
			// The user turned the template back on in the settings page: a
			// long-term subscription lives again; a one-time template only
			// may be asked for again, which grants nothing yet.
			c, err := s.grant(ctx, e.AppID, e.OpenID, e.TemplateID, now, SourceEvent)
			if err != nil || c == nil || c.Kind != string(wxnotify.CreditLongTerm) {
				return err
			}
			_, err = s.insert(ctx, e.AppID, []*store.CreditInsertParams{c})
			return err
		}
		if e.Status != string(wxnotify.SubscribeReject) {
			return nil
		}
		n, err := s.Store.CreditKillTemplate(ctx, &store.CreditKillTemplateParams{
			AppID: e.AppID, OpenID: e.OpenID, TemplateID: e.TemplateID, Reason: ReasonSubscriptionCancelled,
		})
		if err != nil {
			return fmt.Errorf("kill template credits: %w", err)
		}
		s.logger().Info("subscription cancelled", "appid", e.AppID, "template_id", e.TemplateID, "killed", n)
	}
	return nil
}

func (s *Service) insert(ctx context.Context, appID string, credits []*store.CreditInsertParams) (int, error) {
	if len(credits) == 0 {
		return 0, nil
	}
	n, err := s.Store.CreditInsertBatch(ctx, credits)
	if errors.Is(err, store.ErrNotFound) {
		return 0, wxnotify.Errorf(wxnotify.ENOTFOUND, "app %s not found", appID)
	} else if err != nil {
		return 0, fmt.Errorf("insert credits: %w", err)
	}
	return n, nil
}

func (s *Service) addChoice(ctx context.Context, p *store.SubscribeChoiceAddParams) error {
	if err := s.Store.SubscribeChoiceAdd(ctx, p); errors.Is(err, store.ErrNotFound) {
		return wxnotify.Errorf(wxnotify.ENOTFOUND, "app %s not found", p.AppID)
	} else if err != nil {
		return fmt.Errorf("count subscribe answer: %w", err)
	}
	return nil
}

// grant returns the credit one acceptance of templateID gives the user: a
// one-time acceptance (one send), or for a long-term template (type 3 in
// the catalog) a long-term subscription, which lasts until the user turns
// it off; nil when the user holds a usable one already, since a second
// would add nothing. A template the catalog does not know (never synced) is
// taken as one-time: that may spend the acceptance on fewer sends than
// WeChat allows, never on more.
func (s *Service) grant(ctx context.Context, appID, openID, templateID string, now time.Time, source string) (*store.CreditInsertParams, error) {
	kind := wxnotify.CreditSubscribe
	t, err := s.Store.TemplateGet(ctx, appID, templateID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("template of the acceptance: %w", err)
	case t.Type == wxnotify.TemplateLongTerm && !t.Deleted:
		kind = wxnotify.CreditLongTerm
	}
	if kind == wxnotify.CreditLongTerm {
		held, err := s.Store.CreditStocks(ctx, &store.CreditStocksParams{
			AppID: appID, OpenID: openID, TemplateID: templateID, Kind: string(kind), Cutoff: s.cutoff(now),
		})
		if err != nil {
			return nil, fmt.Errorf("long-term subscriptions held: %w", err)
		}
		for _, h := range held {
			if h.Credits > 0 {
				return nil, nil
			}
		}
	}
	return &store.CreditInsertParams{
		AppID: appID, OpenID: openID, Kind: string(kind), TemplateID: templateID,
		Uses: 1, ObtainedAt: now, Source: source,
	}, nil
}

func creditFromRow(c *store.Credit) *wxnotify.Credit {
	return &wxnotify.Credit{
		ID: c.ID, AppID: c.AppID, OpenID: c.OpenID, Kind: wxnotify.CreditKind(c.Kind), TemplateID: c.TemplateID,
		Value: c.Value, UsesLeft: c.UsesLeft, ObtainedAt: c.ObtainedAt, ExpiresAt: c.ExpiresAt,
		Source: c.Source, DeadReason: c.DeadReason,
	}
}

func validateUser(appID, openID string) error {
	if appID == "" {
		return wxnotify.FieldErrorf("appid", "appid required")
	} else if err := validateID("appid", appID); err != nil {
		return err
	}
	if openID == "" {
		return wxnotify.FieldErrorf("openid", "openid required")
	}
	return validateID("openid", openID)
}

func validateID(field, v string) error {
	if v == "" {
		return wxnotify.FieldErrorf(field, "%s required", field)
	} else if len(v) > MaxIDLen {
		return wxnotify.FieldErrorf(field, "longer than %d bytes", MaxIDLen)
	}
	return wxnotify.CheckText(field, v)
}

func validateEvent(e *wxnotify.Event) error {
	switch {
	case e == nil:
		return wxnotify.FieldErrorf("", "event required")
	case e.Type == "":
		return wxnotify.FieldErrorf("type", "type required")
	case e.CreateTime.IsZero():
		return wxnotify.FieldErrorf("create_time", "create_time required")
	}
	if err := validateUser(e.AppID, e.OpenID); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"type", e.Type}, {"template_id", e.TemplateID}, {"status", e.Status},
		{"popup_scene", e.PopupScene}, {"msgid", e.MsgID},
	} {
		if len(f.v) > MaxIDLen {
			return wxnotify.FieldErrorf(f.name, "longer than %d bytes", MaxIDLen)
		}
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Purge is the credit-purge job: PurgeCredits, logged.
func (s *Service) Purge(ctx context.Context) error {
	n, err := s.PurgeCredits(ctx)
	if err != nil {
		return fmt.Errorf("purge credits: %w", err)
	}
	if n > 0 {
		s.logger().Info("credits purged", "purged", n)
	}
	return nil
}
