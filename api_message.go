package wxnotify

import "time"

// MessageRequest is the body of POST /v1/messages.
type MessageRequest struct {
	AppID            string               `json:"appid"`
	OpenID           string               `json:"openid"`
	Kind             MessageKind          `json:"kind,omitempty"`
	TemplateID       string               `json:"template_id"`
	Data             map[string]DataValue `json:"data"`
	Page             string               `json:"page,omitempty"`
	MiniprogramState string               `json:"miniprogram_state,omitempty"`
	Lang             string               `json:"lang,omitempty"`
	EmphasisKeyword  string               `json:"emphasis_keyword,omitempty"`
	SendAt           *time.Time           `json:"send_at,omitempty"`
	// TTL is how long to keep trying, as a Go duration ("90m", "24h").
	TTL           string `json:"ttl,omitempty"`
	WaitForCredit bool   `json:"wait_for_credit,omitempty"`
}

// Message builds the domain message from the request. A TTL that is not a
// duration in (0, MaxMessageTTL] is EINVALID naming "ttl"; it counts from
// SendAt when that is after now.
func (r *MessageRequest) Message(now time.Time) (*Message, error) {
	m := &Message{
		AppID: r.AppID, OpenID: r.OpenID, Kind: r.Kind, TemplateID: r.TemplateID, Page: r.Page,
		MiniprogramState: r.MiniprogramState, Lang: r.Lang, EmphasisKeyword: r.EmphasisKeyword,
		WaitForCredit: r.WaitForCredit,
	}
	if r.Data != nil {
		m.Data = make(map[string]string, len(r.Data))
		for k, v := range r.Data {
			m.Data[k] = string(v)
		}
	}
	if r.SendAt != nil {
		m.SendAt = *r.SendAt
	}
	if r.TTL != "" {
		ttl, err := time.ParseDuration(r.TTL)
		if err != nil || ttl <= 0 || ttl > MaxMessageTTL {
			return nil, FieldErrorf("ttl", "a duration such as \"30m\" or \"24h\", at most %s", MaxMessageTTL)
		}
		start := now
		if m.SendAt.After(now) {
			start = m.SendAt
		}
		m.ExpiresAt = start.Add(ttl)
	}
	return m, nil
}

// MessageResponse answers POST /v1/messages.
type MessageResponse struct {
	ID      int64        `json:"id"`
	State   MessageState `json:"state"`
	Created bool         `json:"created"` // false: an Idempotency-Key replay
}

// MessageDetail answers GET /v1/messages/{id}.
type MessageDetail struct {
	*Message
	AttemptList []*Attempt `json:"attempt_list"`
}

// MessageList answers GET /v1/messages.
type MessageList struct {
	Messages []*Message `json:"messages"`
	// NextBefore pages on: pass it as ?before= for older messages.
	NextBefore int64 `json:"next_before,omitempty"`
}

// BroadcastRequest is the header of POST /v1/broadcasts: every field of a
// message but the openid. The recipients follow it, streamed: as the last
// field "recipients" of the JSON object, or one per line after it in
// NDJSON (see the http package's handler).
type BroadcastRequest struct {
	AppID            string               `json:"appid"`
	Kind             MessageKind          `json:"kind,omitempty"`
	TemplateID       string               `json:"template_id"`
	Data             map[string]DataValue `json:"data"`
	Page             string               `json:"page,omitempty"`
	MiniprogramState string               `json:"miniprogram_state,omitempty"`
	Lang             string               `json:"lang,omitempty"`
	EmphasisKeyword  string               `json:"emphasis_keyword,omitempty"`
	SendAt           *time.Time           `json:"send_at,omitempty"`
	TTL              string               `json:"ttl,omitempty"`
	WaitForCredit    bool                 `json:"wait_for_credit,omitempty"`
}

// Broadcast builds the domain broadcast from the header, by the rules of
// MessageRequest.Message.
func (r *BroadcastRequest) Broadcast(now time.Time) (*Broadcast, error) {
	mr := MessageRequest{
		AppID: r.AppID, Kind: r.Kind, TemplateID: r.TemplateID, Data: r.Data, Page: r.Page,
		MiniprogramState: r.MiniprogramState, Lang: r.Lang, EmphasisKeyword: r.EmphasisKeyword,
		SendAt: r.SendAt, TTL: r.TTL, WaitForCredit: r.WaitForCredit,
	}
	m, err := mr.Message(now)
	if err != nil {
		return nil, err
	}
	return &Broadcast{
		AppID: m.AppID, Kind: m.Kind, TemplateID: m.TemplateID, Data: m.Data, Page: m.Page,
		MiniprogramState: m.MiniprogramState, Lang: m.Lang, EmphasisKeyword: m.EmphasisKeyword,
		SendAt: m.SendAt, ExpiresAt: m.ExpiresAt, WaitForCredit: m.WaitForCredit,
	}, nil
}

// BroadcastResponse answers POST /v1/broadcasts.
type BroadcastResponse struct {
	ID       int64          `json:"id"`
	Accepted int64          `json:"accepted"`
	State    BroadcastState `json:"state"`
	// Created is false when an Idempotency-Key retry found the first
	// broadcast.
	Created bool `json:"created"`
}

// BroadcastList is the answer of GET /v1/broadcasts: a page, newest
// first; NextBefore, when not 0, is the before of the next page.
type BroadcastList struct {
	Broadcasts []*Broadcast `json:"broadcasts"`
	NextBefore int64        `json:"next_before,omitempty"`
}
