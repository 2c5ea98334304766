package wxnotify

import (
	"context"
	"time"
)

// Event types WeChat pushes about subscribe messages.
const (
	EventSubscribePopup  = "subscribe_msg_popup_event"  // the user answered wx.requestSubscribeMessage
	EventSubscribeChange = "subscribe_msg_change_event" // the user changed a subscription in settings
	EventSubscribeSent   = "subscribe_msg_sent_event"   // delivery result of a subscribe message
)

// Event is one push from WeChat about one template, as the callback
// decoded it. An event message with several entries in its List becomes
// several Events.
type Event struct {
	AppID      string    `json:"appid"`
	Type       string    `json:"type"`
	OpenID     string    `json:"openid"`
	TemplateID string    `json:"template_id"`
	CreateTime time.Time `json:"create_time"`
	// Status is SubscribeStatusString for popup and change events
	// ("accept", "reject"), and ErrorStatus for sent events ("success", …).
	Status     string `json:"status"`
	PopupScene string `json:"popup_scene,omitempty"`
	MsgID      string `json:"msgid,omitempty"`   // sent events
	ErrorCode  int    `json:"errcode,omitempty"` // sent events
}

// EventService takes WeChat's pushed events: popup acceptances and
// rejections go to the ledger, a cancelled subscription kills the user's
// remaining credits for the template, and sent events are stored for the
// delivery pipeline to match to messages.
type EventService interface {
	HandleEvents(ctx context.Context, events []*Event) error
}
