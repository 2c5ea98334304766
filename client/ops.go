package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wxnotify/wxnotify"
)

// CreateSchedule stores a recurring send (s.AppID, Name, Cron, Timezone and
// Message) and fills s with what the server stored: ID, State, NextRunAt and
// times. Returns EINVALID naming the field ("cron", "message.openids[3]").
func (c *Client) CreateSchedule(ctx context.Context, s *wxnotify.Schedule) error {
	m := s.Message
	req := &wxnotify.ScheduleRequest{
		AppID: s.AppID, Name: s.Name, Cron: s.Cron, Timezone: s.Timezone,
		Message: wxnotify.ScheduleMessageRequest{
			OpenIDs: m.OpenIDs, Kind: m.Kind, TemplateID: m.TemplateID, Data: dataValues(m.Data), Page: m.Page,
			MiniprogramState: m.MiniprogramState, Lang: m.Lang, EmphasisKeyword: m.EmphasisKeyword,
			TTL: m.TTL, WaitForCredit: m.WaitForCredit,
		},
	}
	_, err := c.do(ctx, http.MethodPost, "/v1/schedules", nil, req, s, nil)
	return err
}

// GetSchedule returns one schedule, or ENOTFOUND.
func (c *Client) GetSchedule(ctx context.Context, id int64) (*wxnotify.Schedule, error) {
	return c.scheduleCall(ctx, http.MethodGet, idPath("/v1/schedules", id, ""))
}

// ListSchedules lists the schedules of every app the key may act for.
func (c *Client) ListSchedules(ctx context.Context) ([]*wxnotify.Schedule, error) {
	var out wxnotify.ScheduleList
	if _, err := c.do(ctx, http.MethodGet, "/v1/schedules", nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return out.Schedules, nil
}

// PauseSchedule stops a schedule firing and returns it. The action, like
// ResumeSchedule's and DeleteSchedule's, is written to the audit log.
// Returns ENOTFOUND.
func (c *Client) PauseSchedule(ctx context.Context, id int64) (*wxnotify.Schedule, error) {
	return c.scheduleCall(ctx, http.MethodPost, idPath("/v1/schedules", id, "/pause"))
}

// ResumeSchedule makes a schedule fire again from its next occurrence after
// now, and returns it. Returns ENOTFOUND.
func (c *Client) ResumeSchedule(ctx context.Context, id int64) (*wxnotify.Schedule, error) {
	return c.scheduleCall(ctx, http.MethodPost, idPath("/v1/schedules", id, "/resume"))
}

// DeleteSchedule removes a schedule. Returns ENOTFOUND.
func (c *Client) DeleteSchedule(ctx context.Context, id int64) error {
	_, err := c.do(ctx, http.MethodDelete, idPath("/v1/schedules", id, ""), nil, nil, nil, nil)
	return err
}

func (c *Client) scheduleCall(ctx context.Context, method, path string) (*wxnotify.Schedule, error) {
	var out wxnotify.Schedule
	if _, err := c.do(ctx, method, path, nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateWebhook registers an endpoint told every terminal outcome of the
// app's messages. With w.Secret empty the server generates one. It fills
// w.ID, w.Secret (the only time the secret is shown) and w.CreatedAt.
// Returns EINVALID naming the field, ECONFLICT when the app has
// wxnotify.MaxWebhooksPerApp already.
func (c *Client) CreateWebhook(ctx context.Context, w *wxnotify.Webhook) error {
	req := &wxnotify.WebhookRequest{AppID: w.AppID, URL: w.URL, Secret: w.Secret.Reveal()}
	var out wxnotify.WebhookCreated
	if _, err := c.do(ctx, http.MethodPost, "/v1/webhooks", nil, req, &out, nil); err != nil {
		return err
	}
	w.ID, w.AppID, w.URL, w.Secret, w.CreatedAt = out.ID, out.AppID, out.URL, wxnotify.Secret(out.Secret), out.CreatedAt
	return nil
}

// ListWebhooks lists the webhooks of every app the key may act for, without
// their secrets.
func (c *Client) ListWebhooks(ctx context.Context) ([]*wxnotify.Webhook, error) {
	var out wxnotify.WebhookList
	if _, err := c.do(ctx, http.MethodGet, "/v1/webhooks", nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return out.Webhooks, nil
}

// DeleteWebhook removes a webhook. Returns ENOTFOUND.
func (c *Client) DeleteWebhook(ctx context.Context, id int64) error {
	_, err := c.do(ctx, http.MethodDelete, idPath("/v1/webhooks", id, ""), nil, nil, nil, nil)
	return err
}

// WebhookDeliveriesParams filter ListWebhookDeliveries; zero fields are
// not filtered on.
type WebhookDeliveriesParams struct {
	State  string // wxnotify.WebhookDeliveryPending or WebhookDeliveryDead
	Before int64  // paging: the NextBefore of the previous page
	Limit  int
}

// ListWebhookDeliveries lists a webhook's outbox events (pending or dead),
// newest first; the list's NextBefore pages on.
func (c *Client) ListWebhookDeliveries(ctx context.Context, webhookID int64, p WebhookDeliveriesParams) (*wxnotify.WebhookDeliveryList, error) {
	q := url.Values{}
	if p.State != "" {
		q.Set("state", p.State)
	}
	if p.Before > 0 {
		q.Set("before", strconv.FormatInt(p.Before, 10))
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	var out wxnotify.WebhookDeliveryList
	if _, err := c.do(ctx, http.MethodGet, idPath("/v1/webhooks", webhookID, "/deliveries"), q, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReplayWebhookDeliveries sends a webhook's dead events again (those of
// ids, or every dead one when none is given) and returns how many are
// pending again.
func (c *Client) ReplayWebhookDeliveries(ctx context.Context, webhookID int64, ids ...int64) (int64, error) {
	var out wxnotify.WebhookReplayResponse
	if _, err := c.do(ctx, http.MethodPost, idPath("/v1/webhooks", webhookID, "/deliveries/replay"), nil,
		&wxnotify.WebhookReplayRequest{IDs: ids}, &out, nil); err != nil {
		return 0, err
	}
	return out.Replayed, nil
}

// AccessToken returns a valid access_token of the app from wxnotify's
// central token service (never from WeChat directly), with its expiry.
// Returns EFORBIDDEN for an app the key may not act for, EUNAVAILABLE when
// no valid token can be had.
func (c *Client) AccessToken(ctx context.Context, appID string) (*wxnotify.AccessToken, error) {
	var out wxnotify.AccessTokenResponse
	if _, err := c.do(ctx, http.MethodGet, "/v1/apps/"+url.PathEscape(appID)+"/access_token", nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return accessToken(&out), nil
}

// InvalidateToken reports that WeChat rejected token (errcode 40001, 40014
// or 42001) and returns the token to use next. A burst of reports of one
// token causes one refresh.
func (c *Client) InvalidateToken(ctx context.Context, appID string, token wxnotify.Secret) (*wxnotify.AccessToken, error) {
	var out wxnotify.AccessTokenResponse
	req := &wxnotify.AccessTokenInvalidateRequest{AccessToken: token.Reveal()}
	if _, err := c.do(ctx, http.MethodPost, "/v1/apps/"+url.PathEscape(appID)+"/access_token/invalidate", nil, req, &out, nil); err != nil {
		return nil, err
	}
	return accessToken(&out), nil
}

func accessToken(r *wxnotify.AccessTokenResponse) *wxnotify.AccessToken {
	return &wxnotify.AccessToken{AppID: r.AppID, Value: wxnotify.Secret(r.AccessToken), ExpiresAt: r.ExpiresAt}
}

// TokenStatus returns the app's token health for operators: expiry, next
// refresh, fetches, last error; never the token.
func (c *Client) TokenStatus(ctx context.Context, appID string) (*wxnotify.TokenStatus, error) {
	var out wxnotify.TokenStatus
	if _, err := c.do(ctx, http.MethodGet, "/v1/apps/"+url.PathEscape(appID)+"/token_status", nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// RefreshToken makes the server fetch a new access_token for the app now,
// whatever the current one's expiry (after a secret reset, say), and
// returns the token's state after it, never the token. The action is
// written to the audit log. Returns ENOTFOUND for an unknown app,
// EFORBIDDEN for one the key may not act for, EUNAVAILABLE when WeChat
// refuses.
func (c *Client) RefreshToken(ctx context.Context, appID string) (*wxnotify.TokenStatus, error) {
	var out wxnotify.TokenStatus
	if _, err := c.do(ctx, http.MethodPost, "/v1/apps/"+url.PathEscape(appID)+"/access_token/refresh", nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// StatsParams selects the credits CreditStats counts. Zero fields are not
// filtered on.
type StatsParams struct {
	AppID      string // required
	OpenID     string // count per this user
	TemplateID string
	Kind       wxnotify.CreditKind
	// ExpiringWithin counts only credits that expire within it.
	ExpiringWithin time.Duration
}

// CreditStats counts the app's usable send credits per (kind, template),
// or per user when OpenID is set.
func (c *Client) CreditStats(ctx context.Context, p StatsParams) ([]*wxnotify.CreditStock, error) {
	q := url.Values{}
	if p.ExpiringWithin > 0 {
		q.Set("expiring_within", p.ExpiringWithin.String())
	}
	for k, v := range map[string]string{"openid": p.OpenID, "template_id": p.TemplateID, "kind": string(p.Kind)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out wxnotify.CreditStats
	if _, err := c.do(ctx, http.MethodGet, "/v1/apps/"+url.PathEscape(p.AppID)+"/credits/stats", q, nil, &out, nil); err != nil {
		return nil, err
	}
	return out.Stocks, nil
}

// AddCredits registers legacy credits the backend holds for one user of
// appID: prepay_ids from WeChat Pay (kind wxnotify.CreditPrepayID, 3 sends
// each) or form_ids (wxnotify.CreditFormID, 1 send), and returns how many
// were new. Legacy template messages to that user spend them.
func (c *Client) AddCredits(ctx context.Context, appID, openID string, kind wxnotify.CreditKind, values ...string) (int, error) {
	req := &wxnotify.CreditAddRequest{OpenID: openID, Kind: kind, Values: values}
	var out wxnotify.CreditAddResponse
	if _, err := c.do(ctx, http.MethodPost, "/v1/apps/"+url.PathEscape(appID)+"/credits", nil, req, &out, nil); err != nil {
		return 0, err
	}
	return out.Added, nil
}

// Jobs lists the scheduled jobs of the instance that answers, with their
// last and next runs. Needs an operator's key (every app).
func (c *Client) Jobs(ctx context.Context) ([]*wxnotify.JobStatus, error) {
	var out struct {
		Jobs []*wxnotify.JobStatus `json:"jobs"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/jobs", nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return out.Jobs, nil
}

// AuditParams filters GET /v1/audit. Zero fields are not filtered on.
type AuditParams struct {
	// Action is one of wxnotify.AuditActions.
	Action string
	AppID  string
	// Before pages: only entries with a smaller id (pass the previous
	// page's NextBefore).
	Before int64
	// Limit is the page size, 1 to wxnotify.MaxAuditList; 0 means 100.
	Limit int
}

// ListAudit returns one page of the operators' audit log, newest first:
// who cancelled or retried a message, paused, resumed or deleted a
// schedule, refreshed a token or re-synced templates, when, and what
// changed. Needs an operator's key (every app): EFORBIDDEN otherwise.
// Returns EINVALID naming the field for an unknown action.
func (c *Client) ListAudit(ctx context.Context, p AuditParams) (*wxnotify.AuditList, error) {
	q := url.Values{}
	if p.Action != "" {
		q.Set("action", p.Action)
	}
	if p.AppID != "" {
		q.Set("appid", p.AppID)
	}
	if p.Before > 0 {
		q.Set("before", strconv.FormatInt(p.Before, 10))
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	var out wxnotify.AuditList
	if _, err := c.do(ctx, http.MethodGet, "/v1/audit", q, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}
