package wxnotify

import "time"

// ScheduleRequest is the body of POST /v1/schedules.
type ScheduleRequest struct {
	AppID string `json:"appid"`
	Name  string `json:"name"`
	// Cron is "0 9 * * *" (5 fields) or a descriptor (@daily, @every 1h).
	Cron string `json:"cron"`
	// Timezone is an IANA zone, e.g. "Asia/Shanghai"; default UTC.
	Timezone string                 `json:"timezone,omitempty"`
	Message  ScheduleMessageRequest `json:"message"`
}

// ScheduleMessageRequest is what each occurrence sends: the fields of a
// message, to one openid or a list of openids (not both).
type ScheduleMessageRequest struct {
	OpenID           string               `json:"openid,omitempty"`
	OpenIDs          []string             `json:"openids,omitempty"`
	Kind             MessageKind          `json:"kind,omitempty"`
	TemplateID       string               `json:"template_id"`
	Data             map[string]DataValue `json:"data"`
	Page             string               `json:"page,omitempty"`
	MiniprogramState string               `json:"miniprogram_state,omitempty"`
	Lang             string               `json:"lang,omitempty"`
	EmphasisKeyword  string               `json:"emphasis_keyword,omitempty"`
	TTL              string               `json:"ttl,omitempty"`
	WaitForCredit    bool                 `json:"wait_for_credit,omitempty"`
}

// Schedule builds the domain schedule from the request. Both openid and
// openids is EINVALID naming "message.openid"; the rest is checked by
// Schedule.Validate.
func (r *ScheduleRequest) Schedule() (*Schedule, error) {
	m := r.Message
	openIDs := m.OpenIDs
	if m.OpenID != "" {
		if len(openIDs) > 0 {
			return nil, FieldErrorf("message.openid", "give openid or openids, not both")
		}
		openIDs = []string{m.OpenID}
	}
	sc := &Schedule{
		AppID: r.AppID, Name: r.Name, Cron: r.Cron, Timezone: r.Timezone,
		Message: ScheduleMessage{
			OpenIDs: openIDs, Kind: m.Kind, TemplateID: m.TemplateID, Page: m.Page,
			MiniprogramState: m.MiniprogramState, Lang: m.Lang, EmphasisKeyword: m.EmphasisKeyword,
			TTL: m.TTL, WaitForCredit: m.WaitForCredit,
		},
	}
	if m.Data != nil {
		sc.Message.Data = make(map[string]string, len(m.Data))
		for k, v := range m.Data {
			sc.Message.Data[k] = string(v)
		}
	}
	return sc, nil
}

// ScheduleList answers GET /v1/schedules.
type ScheduleList struct {
	Schedules []*Schedule `json:"schedules"`
}

// WebhookRequest is the body of POST /v1/webhooks.
type WebhookRequest struct {
	AppID string `json:"appid"`
	URL   string `json:"url"`
	// Secret keys the signatures (16 to 256 bytes); omit it to have one
	// generated.
	Secret string `json:"secret,omitempty"`
}

// WebhookCreated answers POST /v1/webhooks: the only answer that carries
// the secret.
type WebhookCreated struct {
	ID        int64     `json:"id"`
	AppID     string    `json:"appid"`
	URL       string    `json:"url"`
	Secret    string    `json:"secret"`
	CreatedAt time.Time `json:"created_at"`
}

// WebhookList answers GET /v1/webhooks.
type WebhookList struct {
	Webhooks []*Webhook `json:"webhooks"`
}

// AccessTokenResponse is the body of the token endpoint
// (GET /v1/apps/{appid}/access_token and its invalidate): the only place
// wxnotify ever returns an access_token.
type AccessTokenResponse struct {
	AppID       string    `json:"appid"`
	AccessToken string    `json:"access_token"`
	ExpiresIn   int64     `json:"expires_in"` // seconds left, as WeChat counts them
	ExpiresAt   time.Time `json:"expires_at"`
}

// AccessTokenInvalidateRequest is the body of
// POST /v1/apps/{appid}/access_token/invalidate: a token that WeChat
// rejected (40001, 40014, 42001).
type AccessTokenInvalidateRequest struct {
	AccessToken string `json:"access_token"`
}

// CreditAddRequest is the body of POST /v1/apps/{appid}/credits: legacy
// credits the backend holds for a user: prepay_ids from WeChat Pay (3 uses
// each) or form_ids it collected itself (1 use), each usable for 7 days.
type CreditAddRequest struct {
	OpenID string     `json:"openid"`
	Kind   CreditKind `json:"kind"` // form_id or prepay_id
	Values []string   `json:"values"`
}

// CreditAddResponse says how many of the values were new (a value stored
// before, or the DevTools mock form_id, is not).
type CreditAddResponse struct {
	Added int `json:"added"`
}

// CreditStats answers GET /v1/apps/{appid}/credits/stats: usable credits per
// (kind, template), or per user when ?openid= names one.
type CreditStats struct {
	Stocks []*CreditStock `json:"stocks"`
}

// WebhookDeliveryList is the answer of GET /v1/webhooks/{id}/deliveries:
// a page, newest first; NextBefore, when not 0, is the before of the next.
type WebhookDeliveryList struct {
	Deliveries []*WebhookDelivery `json:"deliveries"`
	NextBefore int64              `json:"next_before,omitempty"`
}

// WebhookReplayRequest is the body of POST
// /v1/webhooks/{id}/deliveries/replay: the dead events to send again; none
// (or no body) means every dead event of the webhook.
type WebhookReplayRequest struct {
	IDs []int64 `json:"ids,omitempty"`
}

// WebhookReplayResponse says how many dead events are pending again.
type WebhookReplayResponse struct {
	Replayed int64 `json:"replayed"`
}
