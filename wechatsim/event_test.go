package wechatsim_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify/wechatsim"
)

const aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" // 43 characters

type received struct {
	query url.Values
	ct    string
	body  []byte
}

// callbackServer records each push on a channel.
func callbackServer(t *testing.T) (*httptest.Server, <-chan received) {
	t.Helper()
	ch := make(chan received, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- received{r.URL.Query(), r.Header.Get("Content-Type"), b}
		io.WriteString(w, "success")
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

// sha1Sorted is this test's own reading of the signature rule.
func sha1Sorted(parts ...string) string {
	sort.Strings(parts)
	h := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(h[:])
}

// decrypt is this test's own reading of safe mode, independent of the package's Encrypt.
func decrypt(t *testing.T, key43, enc string) (msg []byte, appid string) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(key43 + "=")
	if err != nil {
		t.Fatal(err)
	}
	ct, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(ct)%32 != 0 {
		t.Fatalf("ciphertext: %v, %d bytes (want a multiple of 32)", err, len(ct))
	}
	block, _ := aes.NewCipher(key)
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 32 || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		t.Fatalf("bad PKCS#7 padding %d", pad)
	}
	plain = plain[:len(plain)-pad]
	n := binary.BigEndian.Uint32(plain[16:20])
	return plain[20 : 20+n], string(plain[20+n:])
}

func TestPushEvent(t *testing.T) {
	t.Parallel()
	popup := wechatsim.Event{Type: wechatsim.EventPopup, OpenID: "oU", List: []wechatsim.EventItem{
		{TemplateID: "T1", SubscribeStatusString: "accept"},
		{TemplateID: "T2", SubscribeStatusString: "reject"},
	}}

	t.Run("PlainXML", func(t *testing.T) {
		t.Parallel()
		srv, ch := callbackServer(t)
		sim := wechatsim.New(wechatsim.Options{CallbackURL: srv.URL + "/cb?x=1"})
		sim.AddApp(wechatsim.App{AppID: appID, Secret: secret, CallbackToken: "tok"})
		if err := sim.PushEvent(context.Background(), appID, popup); err != nil {
			t.Fatal(err)
		}
		got := <-ch
		q := got.query
		if want := sha1Sorted("tok", q.Get("timestamp"), q.Get("nonce")); q.Get("signature") != want || q.Get("x") != "1" {
			t.Fatalf("query %v, want signature %s", q, want)
		}
		var ev struct {
			ToUserName, FromUserName, MsgType, Event string
			CreateTime                               int64
			List                                     []struct {
				TemplateId, SubscribeStatusString, PopupScene string
			} `xml:"SubscribeMsgPopupEvent>List"`
		}
		if err := xml.Unmarshal(got.body, &ev); err != nil {
			t.Fatalf("%v: %s", err, got.body)
		}
		if ev.Event != "subscribe_msg_popup_event" || ev.FromUserName != "oU" || ev.MsgType != "event" || ev.CreateTime == 0 ||
			len(ev.List) != 2 || ev.List[1].TemplateId != "T2" || ev.List[1].SubscribeStatusString != "reject" || ev.List[0].PopupScene != "0" {
			t.Fatalf("event %+v from %s", ev, got.body)
		}
	})

	t.Run("PlainJSONListShape", func(t *testing.T) {
		t.Parallel()
		srv, ch := callbackServer(t)
		sim := wechatsim.New(wechatsim.Options{})
		sim.AddApp(wechatsim.App{AppID: appID, Secret: secret, CallbackURL: srv.URL, CallbackToken: "tok", JSONCallbacks: true})
		one := wechatsim.Event{Type: wechatsim.EventChange, OpenID: "oU", List: []wechatsim.EventItem{{TemplateID: "T1", SubscribeStatusString: "reject"}}}
		for _, tt := range []struct {
			ev       wechatsim.Event
			wantList byte
		}{{one, '{'}, {popup, '['}} {
			if err := sim.PushEvent(context.Background(), appID, tt.ev); err != nil {
				t.Fatal(err)
			}
			got := <-ch
			var m map[string]json.RawMessage
			if err := json.Unmarshal(got.body, &m); err != nil {
				t.Fatal(err)
			}
			if m["List"][0] != tt.wantList || string(m["Event"]) != `"`+tt.ev.Type+`"` || got.ct != "application/json" {
				t.Fatalf("body %s", got.body)
			}
			if c := m["CreateTime"]; len(c) == 0 || c[0] == '"' {
				t.Fatalf("CreateTime %s is not a number", c)
			}
		}
	})

	t.Run("SafeModeXML", func(t *testing.T) {
		t.Parallel()
		srv, ch := callbackServer(t)
		sim := wechatsim.New(wechatsim.Options{})
		sim.AddApp(wechatsim.App{AppID: appID, Secret: secret, CallbackURL: srv.URL, CallbackToken: "tok",
			EncodingAESKey: aesKey, SafeMode: true, OriginalID: "gh_abc"})
		sent := wechatsim.Event{Type: wechatsim.EventSent, OpenID: "oU", List: []wechatsim.EventItem{{TemplateID: "T1", MsgID: "2794188253209100289"}}}
		if err := sim.PushEvent(context.Background(), appID, sent); err != nil {
			t.Fatal(err)
		}
		got := <-ch
		var env struct {
			ToUserName, Encrypt string
		}
		if err := xml.Unmarshal(got.body, &env); err != nil {
			t.Fatal(err)
		}
		q := got.query
		if q.Get("encrypt_type") != "aes" || q.Get("msg_signature") != sha1Sorted("tok", q.Get("timestamp"), q.Get("nonce"), env.Encrypt) ||
			q.Get("signature") != sha1Sorted("tok", q.Get("timestamp"), q.Get("nonce")) || env.ToUserName != "gh_abc" {
			t.Fatalf("query %v envelope %+v", q, env)
		}
		msg, gotApp := decrypt(t, aesKey, env.Encrypt)
		if gotApp != appID {
			t.Fatalf("appid %q", gotApp)
		}
		var ev struct {
			Event string
			List  struct {
				TemplateId, MsgID, ErrorStatus string
				ErrorCode                      int
			} `xml:"SubscribeMsgSentEvent>List"`
		}
		if err := xml.Unmarshal(msg, &ev); err != nil {
			t.Fatalf("%v: %s", err, msg)
		}
		if ev.Event != "subscribe_msg_sent_event" || ev.List.MsgID != "2794188253209100289" || ev.List.ErrorStatus != "success" || ev.List.ErrorCode != 0 {
			t.Fatalf("event %+v", ev)
		}
	})

	t.Run("SafeModeJSON", func(t *testing.T) {
		t.Parallel()
		sim := wechatsim.New(wechatsim.Options{})
		sim.AddApp(wechatsim.App{AppID: appID, Secret: secret, CallbackToken: "tok", EncodingAESKey: aesKey, SafeMode: true, JSONCallbacks: true})
		cb, err := sim.RenderEvent(appID, popup)
		if err != nil {
			t.Fatal(err)
		}
		var env struct{ ToUserName, Encrypt string }
		if err := json.Unmarshal(cb.Body, &env); err != nil {
			t.Fatal(err)
		}
		if cb.Query.Get("msg_signature") != sha1Sorted("tok", cb.Query.Get("timestamp"), cb.Query.Get("nonce"), env.Encrypt) {
			t.Fatal("msg_signature")
		}
		msg, _ := decrypt(t, aesKey, env.Encrypt)
		var ev struct {
			List []struct{ TemplateId string }
		}
		if err := json.Unmarshal(msg, &ev); err != nil || len(ev.List) != 2 {
			t.Fatalf("%v: %s", err, msg)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		sim := wechatsim.New(wechatsim.Options{})
		sim.AddApp(wechatsim.App{AppID: appID, Secret: secret})
		if err := sim.PushEvent(context.Background(), appID, popup); err == nil {
			t.Fatal("push without a callback URL succeeded")
		}
		if err := sim.PushEvent(context.Background(), "wxnope", popup); err == nil {
			t.Fatal("push to an unknown app succeeded")
		}
		if _, err := sim.RenderEvent(appID, wechatsim.Event{Type: "nope", List: popup.List}); err == nil {
			t.Fatal("unknown type rendered")
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
		defer srv.Close()
		sim.AddApp(wechatsim.App{AppID: "wx2", Secret: "s", CallbackURL: srv.URL})
		if err := sim.PushEvent(context.Background(), "wx2", popup); err == nil {
			t.Fatal("a 500 from the callback was not an error")
		}
	})
}
