package wechat

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
)

const (
	pathSubscribeSend = "/cgi-bin/message/subscribe/send"
	pathTemplateSend  = "/cgi-bin/message/wxopen/template/send"
)

// Values of SubscribeMessage.MiniprogramState: which build of the
// mini-program the message opens. Empty means MiniprogramStateFormal.
const (
	MiniprogramStateDeveloper = "developer"
	MiniprogramStateTrial     = "trial"
	MiniprogramStateFormal    = "formal"
)

// Values of SubscribeMessage.Lang: the language of the "open the
// mini-program" link. Empty means LangZhCN.
const (
	LangZhCN = "zh_CN"
	LangEnUS = "en_US"
	LangZhHK = "zh_HK"
	LangZhTW = "zh_TW"
)

// Data maps a template keyword to its value: "thing1", "time2", … for
// subscribe templates, "keyword1", "keyword2", … for legacy ones. It is sent
// as {"thing1":{"value":"…"}, …}, keys in sorted order, with <, > and & as
// they are.
type Data map[string]string

// SubscribeMessage is the body of a subscribe message send.
type SubscribeMessage struct {
	ToUser           string // the recipient's openid; required
	TemplateID       string // priTmplId of one of the app's templates; required
	Page             string // page opened from the card, e.g. "pages/a/a?x=1"; "" opens none
	Data             Data   // one value per keyword of the template; required
	MiniprogramState string // a MiniprogramState* value; "" means formal
	Lang             string // a Lang* value; "" means zh_CN
}

// TemplateMessage is the body of a legacy template message send. It
// redacts FormID under fmt, slog and encoding/json.
type TemplateMessage struct {
	ToUser          string // the recipient's openid; required
	TemplateID      string // template_id of one of the app's legacy templates; required
	Page            string // page opened from the card; "" opens none
	FormID          string // a form_id or prepay_id of ToUser; required, one use; not to be logged
	Data            Data   // "keyword1", "keyword2", … to values
	EmphasisKeyword string // keyword shown enlarged, e.g. "keyword1.DATA"; "" for none
}

// String redacts FormID.
func (m TemplateMessage) String() string {
	return "TemplateMessage{ToUser:" + m.ToUser + " TemplateID:" + m.TemplateID + " FormID:" + mask(m.FormID) + "}"
}

// GoString redacts FormID under %#v.
func (m TemplateMessage) GoString() string {
	return "wechat.TemplateMessage{ToUser:" + strconv.Quote(m.ToUser) + ", TemplateID:" + strconv.Quote(m.TemplateID) +
		", FormID:" + strconv.Quote(mask(m.FormID)) + ", …}"
}

// MarshalJSON redacts FormID: a TemplateMessage is not meant to be stored.
func (m TemplateMessage) MarshalJSON() ([]byte, error) {
	return encodeJSON(struct {
		ToUser     string `json:"touser"`
		TemplateID string `json:"template_id"`
		FormID     string `json:"form_id"`
	}{m.ToUser, m.TemplateID, mask(m.FormID)})
}

// LogValue redacts FormID in slog output.
func (m TemplateMessage) LogValue() slog.Value {
	return slog.GroupValue(slog.String("touser", m.ToUser), slog.String("template_id", m.TemplateID), slog.String("form_id", mask(m.FormID)))
}

type sendResponse struct {
	result
	MsgID msgID `json:"msgid"`
}

// SendSubscribe sends a subscribe message with POST
// /cgi-bin/message/subscribe/send and returns WeChat's msgid as a decimal
// string (it exceeds 2^53; never parse it as a float).
//
// Each one-time subscription the user granted for TemplateID allows one
// send; without one WeChat answers 43101 (ClassCredit). 40003 (openid),
// 40037 (template_id), 41030 (page) and 47003 (data) are ClassPermanent.
// The method is built for a hot loop: it encodes the body by hand and reuses
// response buffers.
func (c *Client) SendSubscribe(ctx context.Context, accessToken string, m *SubscribeMessage) (msgID string, err error) {
	body := appendSubscribe(make([]byte, 0, subscribeSize(m)), m)
	var r sendResponse
	if err := c.call(ctx, http.MethodPost, pathSubscribeSend, tokenQuery(accessToken), body, c.jsonCT, &r); err != nil {
		return "", err
	}
	return string(r.MsgID), nil
}

// SendTemplate sends a legacy template message with POST
// /cgi-bin/message/wxopen/template/send, spending m.FormID.
//
// 41028 (form_id invalid or expired) and 41029 (form_id used) are
// ClassCredit: try the user's next form_id. 40037, 41030 and 47003 are
// ClassPermanent; 45009 (daily quota) is ClassQuota.
func (c *Client) SendTemplate(ctx context.Context, accessToken string, m *TemplateMessage) error {
	body := appendTemplate(make([]byte, 0, templateSize(m)), m)
	var r result
	return c.call(ctx, http.MethodPost, pathTemplateSend, tokenQuery(accessToken), body, c.jsonCT, &r)
}

func dataSize(d Data) int {
	n := 2
	for k, v := range d {
		n += len(k) + len(v) + 16
	}
	return n
}

func subscribeSize(m *SubscribeMessage) int {
	return 96 + len(m.ToUser) + len(m.TemplateID) + len(m.Page) + len(m.MiniprogramState) + len(m.Lang) + dataSize(m.Data)
}

func templateSize(m *TemplateMessage) int {
	return 96 + len(m.ToUser) + len(m.TemplateID) + len(m.Page) + len(m.FormID) + len(m.EmphasisKeyword) + dataSize(m.Data)
}

// appendSubscribe appends m as the JSON body of subscribe/send. Optional
// fields are left out when empty, as WeChat's defaults apply then.
func appendSubscribe(b []byte, m *SubscribeMessage) []byte {
	b = append(b, `{"touser":`...)
	b = appendJSONString(b, m.ToUser)
	b = append(b, `,"template_id":`...)
	b = appendJSONString(b, m.TemplateID)
	if m.Page != "" {
		b = append(b, `,"page":`...)
		b = appendJSONString(b, m.Page)
	}
	b = append(b, `,"data":`...)
	b = appendData(b, m.Data)
	if m.MiniprogramState != "" {
		b = append(b, `,"miniprogram_state":`...)
		b = appendJSONString(b, m.MiniprogramState)
	}
	if m.Lang != "" {
		b = append(b, `,"lang":`...)
		b = appendJSONString(b, m.Lang)
	}
	return append(b, '}')
}

// appendTemplate appends m as the JSON body of wxopen/template/send.
func appendTemplate(b []byte, m *TemplateMessage) []byte {
	b = append(b, `{"touser":`...)
	b = appendJSONString(b, m.ToUser)
	b = append(b, `,"template_id":`...)
	b = appendJSONString(b, m.TemplateID)
	if m.Page != "" {
		b = append(b, `,"page":`...)
		b = appendJSONString(b, m.Page)
	}
	b = append(b, `,"form_id":`...)
	b = appendJSONString(b, m.FormID)
	b = append(b, `,"data":`...)
	b = appendData(b, m.Data)
	if m.EmphasisKeyword != "" {
		b = append(b, `,"emphasis_keyword":`...)
		b = appendJSONString(b, m.EmphasisKeyword)
	}
	return append(b, '}')
}

// appendData appends d as {"key":{"value":"…"},…} with keys sorted, so equal
// messages have equal bodies.
func appendData(b []byte, d Data) []byte {
	var arr [16]string
	keys := arr[:0]
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, `:{"value":`...)
		b = appendJSONString(b, d[k])
		b = append(b, '}')
	}
	return append(b, '}')
}
