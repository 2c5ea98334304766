package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wxnotify/wxnotify"
)

// SendParams is one message to send: POST /v1/messages.
type SendParams struct {
	AppID      string
	OpenID     string
	Kind       wxnotify.MessageKind // "" means subscribe
	TemplateID string
	// Data maps each keyword of the template ("thing1") to its value.
	Data             map[string]string
	Page             string
	MiniprogramState string
	Lang             string
	EmphasisKeyword  string
	// SendAt delays the message; zero means now.
	SendAt time.Time
	// TTL is how long wxnotify keeps trying; zero means the server's default.
	TTL           time.Duration
	WaitForCredit bool
	// IdempotencyKey makes a retried call return the first message instead
	// of sending twice. Use one per logical notification.
	IdempotencyKey string
}

// SendResult is the answer to SendMessage: the message's id, its state, and
// whether it was created (false: an IdempotencyKey replay).
type SendResult = wxnotify.MessageResponse

// SendMessage queues one message and returns once wxnotify has stored it;
// delivery happens later (see GetMessage). Returns EINVALID naming the field
// at fault, EFORBIDDEN for an app the key may not act for, ENOTFOUND for an
// unknown app.
func (c *Client) SendMessage(ctx context.Context, p *SendParams) (*SendResult, error) {
	req := &wxnotify.MessageRequest{
		AppID: p.AppID, OpenID: p.OpenID, Kind: p.Kind, TemplateID: p.TemplateID, Data: dataValues(p.Data),
		Page: p.Page, MiniprogramState: p.MiniprogramState, Lang: p.Lang, EmphasisKeyword: p.EmphasisKeyword,
		WaitForCredit: p.WaitForCredit,
	}
	if !p.SendAt.IsZero() {
		req.SendAt = &p.SendAt
	}
	if p.TTL > 0 {
		req.TTL = p.TTL.String()
	}
	var h http.Header
	if p.IdempotencyKey != "" {
		h = http.Header{"Idempotency-Key": {p.IdempotencyKey}}
	}
	var out SendResult
	if _, err := c.do(ctx, http.MethodPost, "/v1/messages", nil, req, &out, h); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetMessage returns a message with its attempts at WeChat, oldest first.
// Returns ENOTFOUND when there is none or the key may not see its app.
func (c *Client) GetMessage(ctx context.Context, id int64) (*wxnotify.Message, []*wxnotify.Attempt, error) {
	var out wxnotify.MessageDetail
	if _, err := c.do(ctx, http.MethodGet, idPath("/v1/messages", id, ""), nil, nil, &out, nil); err != nil {
		return nil, nil, err
	}
	if out.Message == nil {
		out.Message = &wxnotify.Message{}
	}
	return out.Message, out.AttemptList, nil
}

// WaitMessage polls GetMessage every interval (default 250ms) until the
// message is in a terminal state or ctx ends, and returns it.
func (c *Client) WaitMessage(ctx context.Context, id int64, interval time.Duration) (*wxnotify.Message, []*wxnotify.Attempt, error) {
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		m, attempts, err := c.GetMessage(ctx, id)
		if err != nil || m.State.Terminal() {
			return m, attempts, err
		}
		select {
		case <-ctx.Done():
			return m, attempts, ctx.Err()
		case <-t.C:
		}
	}
}

// ListParams filters GET /v1/messages. Zero fields are not filtered on.
type ListParams struct {
	AppID       string
	OpenID      string
	State       wxnotify.MessageState
	BroadcastID int64
	// Before pages: only messages with a smaller id (pass the previous
	// page's NextBefore).
	Before int64
	// Limit is the page size, 1 to 1000; 0 means 100.
	Limit int
}

// MessageList is a page of messages, newest first; NextBefore, when not
// zero, is the Before of the next page.
type MessageList = wxnotify.MessageList

// ListMessages returns one page of the messages of the apps the key may act
// for, newest first. Returns EFORBIDDEN when AppID names an app the key may
// not act for.
func (c *Client) ListMessages(ctx context.Context, p ListParams) (*MessageList, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("appid", p.AppID)
	set("openid", p.OpenID)
	set("state", string(p.State))
	if p.BroadcastID > 0 {
		q.Set("broadcast_id", strconv.FormatInt(p.BroadcastID, 10))
	}
	if p.Before > 0 {
		q.Set("before", strconv.FormatInt(p.Before, 10))
	}
	if p.Limit <= 0 {
		p.Limit = 100 // the server pages only with an explicit limit
	}
	q.Set("limit", strconv.Itoa(p.Limit))
	var out MessageList
	if _, err := c.do(ctx, http.MethodGet, "/v1/messages", q, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// Messages iterates over every message the filter selects, newest first,
// fetching a page at a time. An error ends the iteration after it is
// yielded.
func (c *Client) Messages(ctx context.Context, p ListParams) iter.Seq2[*wxnotify.Message, error] {
	return func(yield func(*wxnotify.Message, error) bool) {
		for {
			page, err := c.ListMessages(ctx, p)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, m := range page.Messages {
				if !yield(m, nil) {
					return
				}
			}
			if page.NextBefore == 0 {
				return
			}
			p.Before = page.NextBefore
		}
	}
}

// CancelMessage cancels a message not yet being sent and returns it. The
// action is written to the audit log. Returns ECONFLICT when it is being sent or already terminal, ENOTFOUND.
func (c *Client) CancelMessage(ctx context.Context, id int64) (*wxnotify.Message, error) {
	var out wxnotify.Message
	if _, err := c.do(ctx, http.MethodPost, idPath("/v1/messages", id, "/cancel"), nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// RetryMessage sends a failed, no_credit or expired message again: the
// server queues it, due now, with its time to live counted from now and a
// fresh credit taken when it is claimed; its earlier attempts stay in its
// history. The action is written to the audit log. Returns ECONFLICT for a
// message in any other state (delivered, cancelled and ambiguous ones are
// never sent again), ENOTFOUND.
func (c *Client) RetryMessage(ctx context.Context, id int64) (*wxnotify.Message, error) {
	var out wxnotify.Message
	if _, err := c.do(ctx, http.MethodPost, idPath("/v1/messages", id, "/retry"), nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

func dataValues(d map[string]string) map[string]wxnotify.DataValue {
	if d == nil {
		return nil
	}
	out := make(map[string]wxnotify.DataValue, len(d))
	for k, v := range d {
		out[k] = wxnotify.DataValue(v)
	}
	return out
}
