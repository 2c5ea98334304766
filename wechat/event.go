package wechat

// Parsing pushed messages: the safe-mode Envelope and the (decrypted)
// Message, in the XML or JSON format chosen in the push settings. The three
// subscribe-message events are documented at
// https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/subscribe-message.html
// and their real shape differs from the documented one in two ways this
// file absorbs:
//
//   - In JSON, "List" is an object when the event has one entry and an array
//     when it has several. (In XML, the wrapper element holds one <List>
//     element per entry.) Older documentation also nests the entries under
//     the XML wrapper name ("SubscribeMsgPopupEvent": [...] or
//     {"List": ...}); that form is accepted too.
//   - CreateTime, ErrorCode and PopupScene arrive as JSON numbers or as
//     strings, depending on the event and the day. MsgID exceeds 2^53 and is
//     kept as a decimal string.

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxPushBodySize is the largest push body ParseEnvelope and ParseMessage
// accept, and the longest Encrypt field Cipher.Decrypt accepts. Subscribe
// events are a few hundred bytes; a larger body is refused unread, so a
// caller can read at most MaxPushBodySize+1 bytes of a request.
const MaxPushBodySize = 64 << 10

// Values of Message.MsgType and Message.Event for subscribe messages.
const (
	MsgTypeEvent = "event"

	// EventSubscribePopup: the user answered a wx.requestSubscribeMessage
	// popup. Each SubscribeItem has TemplateID, SubscribeStatusString
	// ("accept" or "reject") and PopupScene ("0": a mini-program page).
	EventSubscribePopup = "subscribe_msg_popup_event"

	// EventSubscribeChange: the user changed a subscription from a message
	// card's settings. Each SubscribeItem has TemplateID and
	// SubscribeStatusString (WeChat only pushes "reject").
	EventSubscribeChange = "subscribe_msg_change_event"

	// EventSubscribeSent: the final result of a subscribeMessage.send. Each
	// SubscribeItem has TemplateID, MsgID, ErrorCode (0 is success) and
	// ErrorStatus ("success", or the reason for the failure).
	EventSubscribeSent = "subscribe_msg_sent_event"
)

// ErrBodyTooLarge is returned for a body over MaxPushBodySize.
var ErrBodyTooLarge = errors.New("wechat: push body exceeds MaxPushBodySize")

// ErrInvalidPush is wrapped by every error ParseEnvelope and ParseMessage
// return for a body that is not well-formed, has no Encrypt field (an
// Envelope), or has a field of the wrong type. The message gives a position,
// never the body's content.
var ErrInvalidPush = errors.New("wechat: invalid push body")

// Envelope is the body of a safe-mode push: the encrypted message and the
// account it is addressed to.
type Envelope struct {
	ToUserName string // the mini-program's original id, gh_…
	Encrypt    string // base64 ciphertext, for VerifyMsgSignature and Cipher.Decrypt
}

// ParseEnvelope parses a safe-mode push body, XML (<xml><ToUserName/>
// <Encrypt/></xml>) or JSON ({"ToUserName":…,"Encrypt":…}). A body over
// MaxPushBodySize is ErrBodyTooLarge; a malformed one or one without Encrypt
// wraps ErrInvalidPush. Other fields (compatibility mode also sends the
// plaintext ones) are ignored.
func ParseEnvelope(body []byte, isJSON bool) (Envelope, error) {
	if len(body) > MaxPushBodySize {
		return Envelope{}, ErrBodyTooLarge
	}
	var env Envelope
	if isJSON {
		var w struct {
			ToUserName string `json:"ToUserName"`
			Encrypt    string `json:"Encrypt"`
		}
		if err := json.Unmarshal(body, &w); err != nil {
			return Envelope{}, jsonError(err)
		}
		env = Envelope{ToUserName: w.ToUserName, Encrypt: w.Encrypt}
	} else {
		var w struct {
			ToUserName string `xml:"ToUserName"`
			Encrypt    string `xml:"Encrypt"`
		}
		if err := xml.Unmarshal(body, &w); err != nil {
			return Envelope{}, xmlError(err)
		}
		env = Envelope{ToUserName: strings.TrimSpace(w.ToUserName), Encrypt: strings.TrimSpace(w.Encrypt)}
	}
	if env.Encrypt == "" {
		return Envelope{}, fmt.Errorf("%w: no Encrypt field", ErrInvalidPush)
	}
	return env, nil
}

// Message is a pushed message or event, after decryption. Only the fields
// the subscribe-message events use are decoded; any other message or event
// parses with its header fields set and List empty, so that the caller can
// skip it.
//
// Encoded with encoding/json, a Message gives WeChat's JSON push format,
// with List always an array; ParseMessage reads it back unchanged.
type Message struct {
	ToUserName   string `json:"ToUserName"`   // the mini-program's original id, gh_…
	FromUserName string `json:"FromUserName"` // the user's openid
	CreateTime   int64  `json:"CreateTime"`   // unix seconds; 0 when absent
	MsgType      string `json:"MsgType"`      // MsgTypeEvent for events
	Event        string `json:"Event,omitempty"`

	// List holds the entries of an EventSubscribePopup, EventSubscribeChange
	// or EventSubscribeSent event, one per template, in the order sent,
	// whether WeChat sent one entry or several. It is nil for other events.
	List []SubscribeItem `json:"List,omitempty"`
}

// SubscribeItem is one template's entry in a subscribe-message event. The
// Event constants say which fields each event sets; the others are empty.
type SubscribeItem struct {
	TemplateID            string `json:"TemplateId"`
	SubscribeStatusString string `json:"SubscribeStatusString,omitempty"` // "accept" or "reject"
	PopupScene            string `json:"PopupScene,omitempty"`            // "0": a mini-program page
	MsgID                 string `json:"MsgID,omitempty"`                 // decimal; exceeds 2^53
	ErrorCode             int    `json:"ErrorCode,omitempty"`             // 0 is success (also when absent)
	ErrorStatus           string `json:"ErrorStatus,omitempty"`           // "success" or the failure
}

// ParseMessage parses a push body, decrypted if it came in safe mode, in XML
// (isJSON false) or JSON. It accepts List as one object or an array (JSON)
// and as one or several <List> elements (XML); CreateTime, ErrorCode and
// PopupScene as numbers or strings; MsgID as a string or a number, whose
// digits are kept exactly. XML values are trimmed of surrounding
// whitespace.
//
// A body over MaxPushBodySize is ErrBodyTooLarge; a malformed one, or one
// with a field of the wrong type, wraps ErrInvalidPush. Unknown message
// types and events are not errors.
func ParseMessage(body []byte, isJSON bool) (*Message, error) {
	if len(body) > MaxPushBodySize {
		return nil, ErrBodyTooLarge
	}
	if isJSON {
		return parseMessageJSON(body)
	}
	return parseMessageXML(body)
}

// isSubscribeEvent reports whether ev carries a List of SubscribeItems.
func isSubscribeEvent(ev string) bool {
	switch ev {
	case EventSubscribePopup, EventSubscribeChange, EventSubscribeSent:
		return true
	}
	return false
}

type xmlItem struct {
	TemplateID            string `xml:"TemplateId"`
	SubscribeStatusString string `xml:"SubscribeStatusString"`
	PopupScene            string `xml:"PopupScene"`
	MsgID                 string `xml:"MsgID"`
	ErrorCode             string `xml:"ErrorCode"`
	ErrorStatus           string `xml:"ErrorStatus"`
}

func parseMessageXML(body []byte) (*Message, error) {
	var w struct {
		ToUserName   string    `xml:"ToUserName"`
		FromUserName string    `xml:"FromUserName"`
		CreateTime   string    `xml:"CreateTime"`
		MsgType      string    `xml:"MsgType"`
		Event        string    `xml:"Event"`
		Popup        []xmlItem `xml:"SubscribeMsgPopupEvent>List"`
		Change       []xmlItem `xml:"SubscribeMsgChangeEvent>List"`
		Sent         []xmlItem `xml:"SubscribeMsgSentEvent>List"`
	}
	if err := xml.Unmarshal(body, &w); err != nil {
		return nil, xmlError(err)
	}
	m := &Message{
		ToUserName:   strings.TrimSpace(w.ToUserName),
		FromUserName: strings.TrimSpace(w.FromUserName),
		MsgType:      strings.TrimSpace(w.MsgType),
		Event:        strings.TrimSpace(w.Event),
	}
	if s := strings.TrimSpace(w.CreateTime); s != "" {
		t, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: CreateTime is not an integer", ErrInvalidPush)
		}
		m.CreateTime = t
	}
	var items []xmlItem
	switch m.Event {
	case EventSubscribePopup:
		items = w.Popup
	case EventSubscribeChange:
		items = w.Change
	case EventSubscribeSent:
		items = w.Sent
	}
	for i, it := range items {
		s := SubscribeItem{
			TemplateID:            strings.TrimSpace(it.TemplateID),
			SubscribeStatusString: strings.TrimSpace(it.SubscribeStatusString),
			PopupScene:            strings.TrimSpace(it.PopupScene),
			MsgID:                 strings.TrimSpace(it.MsgID),
			ErrorStatus:           strings.TrimSpace(it.ErrorStatus),
		}
		if c := strings.TrimSpace(it.ErrorCode); c != "" {
			n, err := strconv.Atoi(c)
			if err != nil {
				return nil, fmt.Errorf("%w: List[%d].ErrorCode is not an integer", ErrInvalidPush, i)
			}
			s.ErrorCode = n
		}
		m.List = append(m.List, s)
	}
	return m, nil
}

type jsonItem struct {
	TemplateID            string     `json:"TemplateId"`
	SubscribeStatusString string     `json:"SubscribeStatusString"`
	PopupScene            flexString `json:"PopupScene"`
	MsgID                 flexString `json:"MsgID"`
	ErrorCode             flexInt    `json:"ErrorCode"`
	ErrorStatus           string     `json:"ErrorStatus"`
}

func parseMessageJSON(body []byte) (*Message, error) {
	var w struct {
		ToUserName   string          `json:"ToUserName"`
		FromUserName string          `json:"FromUserName"`
		CreateTime   flexInt64       `json:"CreateTime"`
		MsgType      string          `json:"MsgType"`
		Event        string          `json:"Event"`
		List         json.RawMessage `json:"List"`
		Popup        json.RawMessage `json:"SubscribeMsgPopupEvent"`
		Change       json.RawMessage `json:"SubscribeMsgChangeEvent"`
		Sent         json.RawMessage `json:"SubscribeMsgSentEvent"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, jsonError(err)
	}
	m := &Message{
		ToUserName:   w.ToUserName,
		FromUserName: w.FromUserName,
		CreateTime:   int64(w.CreateTime),
		MsgType:      w.MsgType,
		Event:        w.Event,
	}
	if !isSubscribeEvent(m.Event) {
		return m, nil
	}
	raw := w.List
	if isNull(raw) {
		// The documented-but-not-sent form: entries under the XML wrapper
		// name, either directly or inside {"List": …}.
		switch m.Event {
		case EventSubscribePopup:
			raw = w.Popup
		case EventSubscribeChange:
			raw = w.Change
		case EventSubscribeSent:
			raw = w.Sent
		}
		if v := bytes.TrimSpace(raw); len(v) > 0 && v[0] == '{' {
			var inner struct {
				List json.RawMessage `json:"List"`
			}
			if err := json.Unmarshal(v, &inner); err != nil {
				return nil, jsonError(err)
			}
			if !isNull(inner.List) {
				raw = inner.List
			}
		}
	}
	items, err := decodeItems(raw)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		m.List = append(m.List, SubscribeItem{
			TemplateID:            it.TemplateID,
			SubscribeStatusString: it.SubscribeStatusString,
			PopupScene:            string(it.PopupScene),
			MsgID:                 string(it.MsgID),
			ErrorCode:             int(it.ErrorCode),
			ErrorStatus:           it.ErrorStatus,
		})
	}
	return m, nil
}

// decodeItems decodes a List value: one object, an array of objects, or
// null/absent (no entries).
func decodeItems(raw json.RawMessage) ([]jsonItem, error) {
	v := bytes.TrimSpace(raw)
	if isNull(v) {
		return nil, nil
	}
	switch v[0] {
	case '{':
		var it jsonItem
		if err := json.Unmarshal(v, &it); err != nil {
			return nil, jsonError(err)
		}
		return []jsonItem{it}, nil
	case '[':
		var its []jsonItem
		if err := json.Unmarshal(v, &its); err != nil {
			return nil, jsonError(err)
		}
		return its, nil
	}
	return nil, fmt.Errorf("%w: List is neither an object nor an array", ErrInvalidPush)
}

// isNull reports whether a raw JSON value is absent or null.
func isNull(raw json.RawMessage) bool {
	v := bytes.TrimSpace(raw)
	return len(v) == 0 || string(v) == "null"
}

// flexInt64 decodes a JSON number or a string of decimal digits into an
// int64; null and "" are 0.
type flexInt64 int64

func (n *flexInt64) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	if s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return errors.New("want an integer")
	}
	*n = flexInt64(v)
	return nil
}

// jsonError describes a JSON decoding failure by position and field only:
// encoding/json's own messages quote pieces of the body.
func jsonError(err error) error {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%w: malformed JSON at byte %d", ErrInvalidPush, se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Errorf("%w: field %s has the wrong type", ErrInvalidPush, te.Field)
		}
		return fmt.Errorf("%w: JSON value has the wrong type at byte %d", ErrInvalidPush, te.Offset)
	}
	// An UnmarshalJSON of ours refused a value (flexInt, flexString, …).
	return fmt.Errorf("%w: a field has an invalid value", ErrInvalidPush)
}

// xmlError describes an XML decoding failure by line only: encoding/xml's
// messages quote element names and text from the body.
func xmlError(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: malformed XML on line %d", ErrInvalidPush, se.Line)
	}
	return fmt.Errorf("%w: malformed XML", ErrInvalidPush)
}
