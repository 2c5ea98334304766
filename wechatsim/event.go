package wechatsim

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Event types WeChat pushes about subscribe messages.
const (
	// EventPopup: the user answered a wx.requestSubscribeMessage popup.
	EventPopup = "subscribe_msg_popup_event"
	// EventChange: the user changed a subscription in settings (only rejections are pushed).
	EventChange = "subscribe_msg_change_event"
	// EventSent: the final result of a subscribeMessage.send.
	EventSent = "subscribe_msg_sent_event"
)

// Event is one push about subscribe messages.
type Event struct {
	// Type is EventPopup, EventChange or EventSent.
	Type string `json:"type"`
	// OpenID is the user (FromUserName).
	OpenID string `json:"openid"`
	// CreateTime defaults to the simulator clock.
	CreateTime time.Time `json:"create_time,omitzero"`
	// List holds one entry per template.
	List []EventItem `json:"list"`
}

// EventItem is one template's entry in an Event.
type EventItem struct {
	TemplateID string `json:"template_id"`
	// SubscribeStatusString is "accept" or "reject" (popup and change events).
	SubscribeStatusString string `json:"subscribe_status,omitempty"`
	// PopupScene is the popup scene, "0" for a mini program page (popup events; default "0").
	PopupScene string `json:"popup_scene,omitempty"`
	// MsgID, ErrorCode and ErrorStatus report a send (sent events); ErrorStatus defaults to
	// "success" when ErrorCode is 0.
	MsgID       string `json:"msgid,omitempty"`
	ErrorCode   int    `json:"error_code,omitempty"`
	ErrorStatus string `json:"error_status,omitempty"`
}

// Callback is a rendered push: the query string and body WeChat would POST.
type Callback struct {
	Query       url.Values
	ContentType string
	Body        []byte
}

// wrapperTag is the XML element that holds the List entries of each event type.
var wrapperTag = map[string]string{
	EventPopup:  "SubscribeMsgPopupEvent",
	EventChange: "SubscribeMsgChangeEvent",
	EventSent:   "SubscribeMsgSentEvent",
}

// PushEvent POSTs ev to appid's callback URL (App.CallbackURL, else Options.CallbackURL),
// formatted and signed as the app is configured (RenderEvent). It does not change
// subscription state: call GrantSubscribe for acceptances. Any non-2xx answer is an error.
func (s *Server) PushEvent(ctx context.Context, appid string, ev Event) error {
	a := s.app(appid)
	if a == nil {
		return fmt.Errorf("push event: unknown app %q", appid)
	}
	target := a.cfg.CallbackURL
	if target == "" {
		target = s.callback
	}
	if target == "" {
		return errors.New("push event: no callback URL")
	}
	cb, err := s.RenderEvent(appid, ev)
	if err != nil {
		return err
	}
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("push event: callback URL: %w", err)
	}
	q := u.Query()
	for k, v := range cb.Query {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(cb.Body))
	if err != nil {
		return fmt.Errorf("push event: %w", err)
	}
	req.Header.Set("Content-Type", cb.ContentType)
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("push event: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("push event: callback answered %s", resp.Status)
	}
	return nil
}

// RenderEvent builds the push of ev for appid without sending it.
//
// Plain mode: the body is the event (XML <xml>…</xml> with one <List> element per entry inside
// <SubscribeMsgPopupEvent>/<SubscribeMsgChangeEvent>/<SubscribeMsgSentEvent>; or JSON whose
// "List" is an object for one entry and an array for several, with CreateTime a number as the
// real server sends it) and the query has signature = sha1 of the sorted concatenation of
// CallbackToken, timestamp and nonce.
//
// Safe mode (App.SafeMode): the event is encrypted with AES-256-CBC, key =
// base64(EncodingAESKey+"="), IV = key[:16], plaintext = 16 random bytes + 4-byte big-endian
// length + event + appid, PKCS#7-padded to a multiple of 32; the body carries ToUserName and
// Encrypt (base64), and the query adds encrypt_type=aes and msg_signature = sha1 of the sorted
// CallbackToken, timestamp, nonce and Encrypt.
func (s *Server) RenderEvent(appid string, ev Event) (Callback, error) {
	a := s.app(appid)
	if a == nil {
		return Callback{}, fmt.Errorf("render event: unknown app %q", appid)
	}
	if wrapperTag[ev.Type] == "" {
		return Callback{}, fmt.Errorf("render event: unknown event type %q", ev.Type)
	}
	if len(ev.List) == 0 {
		return Callback{}, errors.New("render event: empty list")
	}
	if ev.CreateTime.IsZero() {
		ev.CreateTime = s.Now()
	}
	cfg := a.cfg
	var msg []byte
	ct := "text/xml"
	if cfg.JSONCallbacks {
		msg = eventJSON(cfg.OriginalID, ev)
		ct = "application/json"
	} else {
		msg = eventXML(cfg.OriginalID, ev)
	}
	ts := strconv.FormatInt(s.Now().Unix(), 10)
	nonce := strconv.FormatUint(uint64(randUint32()), 10)
	q := url.Values{
		"signature": {Signature(cfg.CallbackToken, ts, nonce)},
		"timestamp": {ts},
		"nonce":     {nonce},
		"openid":    {ev.OpenID},
	}
	if !cfg.SafeMode {
		return Callback{Query: q, ContentType: ct, Body: msg}, nil
	}
	enc, err := Encrypt(cfg.EncodingAESKey, cfg.AppID, msg)
	if err != nil {
		return Callback{}, fmt.Errorf("render event: %w", err)
	}
	q.Set("encrypt_type", "aes")
	q.Set("msg_signature", Signature(cfg.CallbackToken, ts, nonce, enc))
	var body []byte
	if cfg.JSONCallbacks {
		body, _ = json.Marshal(struct {
			ToUserName string
			Encrypt    string
		}{cfg.OriginalID, enc})
	} else {
		var b bytes.Buffer
		b.WriteString("<xml><ToUserName>")
		cdata(&b, cfg.OriginalID)
		b.WriteString("</ToUserName><Encrypt>")
		cdata(&b, enc)
		b.WriteString("</Encrypt></xml>")
		body = b.Bytes()
	}
	return Callback{Query: q, ContentType: ct, Body: body}, nil
}

func randUint32() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

func (it EventItem) status() string {
	if it.ErrorStatus != "" {
		return it.ErrorStatus
	}
	if it.ErrorCode == 0 {
		return "success"
	}
	return "failed"
}

func (it EventItem) scene() string {
	if it.PopupScene == "" {
		return "0"
	}
	return it.PopupScene
}

func cdata(b *bytes.Buffer, s string) {
	b.WriteString("<![CDATA[")
	b.WriteString(strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>"))
	b.WriteString("]]>")
}

func eventXML(to string, ev Event) []byte {
	var b bytes.Buffer
	b.WriteString("<xml><ToUserName>")
	cdata(&b, to)
	b.WriteString("</ToUserName><FromUserName>")
	cdata(&b, ev.OpenID)
	b.WriteString("</FromUserName><CreateTime>")
	b.WriteString(strconv.FormatInt(ev.CreateTime.Unix(), 10))
	b.WriteString("</CreateTime><MsgType><![CDATA[event]]></MsgType><Event>")
	cdata(&b, ev.Type)
	b.WriteString("</Event><" + wrapperTag[ev.Type] + ">")
	for _, it := range ev.List {
		b.WriteString("<List><TemplateId>")
		cdata(&b, it.TemplateID)
		b.WriteString("</TemplateId>")
		switch ev.Type {
		case EventSent:
			b.WriteString("<MsgID>" + it.MsgID + "</MsgID><ErrorCode>" + strconv.Itoa(it.ErrorCode) + "</ErrorCode><ErrorStatus>")
			cdata(&b, it.status())
			b.WriteString("</ErrorStatus>")
		default:
			b.WriteString("<SubscribeStatusString>")
			cdata(&b, it.SubscribeStatusString)
			b.WriteString("</SubscribeStatusString>")
			if ev.Type == EventPopup {
				b.WriteString("<PopupScene>" + it.scene() + "</PopupScene>")
			}
		}
		b.WriteString("</List>")
	}
	b.WriteString("</" + wrapperTag[ev.Type] + "></xml>")
	return b.Bytes()
}

func eventJSON(to string, ev Event) []byte {
	items := make([]map[string]string, len(ev.List))
	for i, it := range ev.List {
		m := map[string]string{"TemplateId": it.TemplateID}
		switch ev.Type {
		case EventSent:
			m["MsgID"] = it.MsgID
			m["ErrorCode"] = strconv.Itoa(it.ErrorCode)
			m["ErrorStatus"] = it.status()
		default:
			m["SubscribeStatusString"] = it.SubscribeStatusString
			if ev.Type == EventPopup {
				m["PopupScene"] = it.scene()
			}
		}
		items[i] = m
	}
	var list any = items
	if len(items) == 1 {
		list = items[0] // the real server sends a lone entry as an object, not an array
	}
	b, _ := json.Marshal(struct {
		ToUserName   string
		FromUserName string
		CreateTime   int64
		MsgType      string
		Event        string
		List         any
	}{to, ev.OpenID, ev.CreateTime.Unix(), "event", ev.Type, list})
	return b
}

// Signature returns WeChat's callback signature: the hex SHA-1 of parts sorted and joined.
func Signature(parts ...string) string {
	p := slices.Clone(parts)
	slices.Sort(p)
	h := sha1.Sum([]byte(strings.Join(p, "")))
	return hex.EncodeToString(h[:])
}

// Encrypt encrypts msg for appid in WeChat's safe mode and returns it base64-encoded.
func Encrypt(encodingAESKey, appid string, msg []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return "", errors.New("encrypt: EncodingAESKey must be 43 base64 characters")
	}
	plain := make([]byte, 20, 20+len(msg)+len(appid)+32)
	rand.Read(plain[:16])
	binary.BigEndian.PutUint32(plain[16:20], uint32(len(msg)))
	plain = append(plain, msg...)
	plain = append(plain, appid...)
	pad := 32 - len(plain)%32
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", fmt.Errorf("encrypt: %w", err)
	}
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(plain, plain)
	return base64.StdEncoding.EncodeToString(plain), nil
}
