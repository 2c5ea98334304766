package wechat_test

import (
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/wechat"
	"github.com/wxnotify/wxnotify/wechatsim"
)

// TestCallback_Sim renders every subscribe event the simulator can push, in
// every format and mode, and reads it back the way a callback handler does:
// verify the signatures, unwrap and decrypt in safe mode, check the appid,
// then parse.
func TestCallback_Sim(t *testing.T) {
	t.Parallel()
	const (
		token      = "callback-token-7f3a"
		originalID = "gh_3f9a0c1d2e4b"
		openID     = "oKXUCj1BVfk4lD0Gkpk9IGhS0bq8"
	)
	created := time.Date(2024, 4, 25, 9, 24, 19, 0, time.UTC)

	items := map[string][]wechatsim.EventItem{
		wechatsim.EventPopup: {
			{TemplateID: "tmpl-A", SubscribeStatusString: "accept"},
			{TemplateID: "tmpl-B", SubscribeStatusString: "reject", PopupScene: "1"},
			{TemplateID: "tmpl-<&>]]>", SubscribeStatusString: "accept"},
		},
		wechatsim.EventChange: {
			{TemplateID: "tmpl-A", SubscribeStatusString: "reject"},
			{TemplateID: "tmpl-B", SubscribeStatusString: "reject"},
			{TemplateID: "tmpl-C", SubscribeStatusString: "accept"},
		},
		wechatsim.EventSent: {
			{TemplateID: "tmpl-A", MsgID: "2794188253209100289"},
			{TemplateID: "tmpl-B", MsgID: "3458764513820540929", ErrorCode: 10003, ErrorStatus: "failed"},
			{TemplateID: "tmpl-C", MsgID: "9223372036854775807", ErrorCode: 10004},
		},
	}
	// want is this test's reading of the simulator's defaults: PopupScene
	// "0", ErrorStatus "success" for code 0 and "failed" otherwise.
	want := func(typ string, it wechatsim.EventItem) wechat.SubscribeItem {
		switch typ {
		case wechatsim.EventSent:
			status := it.ErrorStatus
			if status == "" {
				status = "success"
				if it.ErrorCode != 0 {
					status = "failed"
				}
			}
			return wechat.SubscribeItem{TemplateID: it.TemplateID, MsgID: it.MsgID, ErrorCode: it.ErrorCode, ErrorStatus: status}
		case wechatsim.EventPopup:
			scene := it.PopupScene
			if scene == "" {
				scene = "0"
			}
			return wechat.SubscribeItem{TemplateID: it.TemplateID, SubscribeStatusString: it.SubscribeStatusString, PopupScene: scene}
		}
		return wechat.SubscribeItem{TemplateID: it.TemplateID, SubscribeStatusString: it.SubscribeStatusString}
	}

	for _, typ := range []string{wechatsim.EventPopup, wechatsim.EventChange, wechatsim.EventSent} {
		for _, isJSON := range []bool{false, true} {
			for _, safe := range []bool{false, true} {
				for _, n := range []int{1, 3} {
					name := fmt.Sprintf("%s/json=%v/safe=%v/n=%d", typ, isJSON, safe, n)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						sim := wechatsim.New(wechatsim.Options{Now: func() time.Time { return created }})
						sim.AddApp(wechatsim.App{
							AppID: testAppID, Secret: testSecret, CallbackToken: token, OriginalID: originalID,
							EncodingAESKey: otherKey, SafeMode: safe, JSONCallbacks: isJSON,
						})
						ev := wechatsim.Event{Type: typ, OpenID: openID, CreateTime: created, List: items[typ][:n]}
						cb, err := sim.RenderEvent(testAppID, ev)
						if err != nil {
							t.Fatalf("RenderEvent: %v", err)
						}
						q := cb.Query
						if !wechat.VerifySignature(token, q.Get("signature"), q.Get("timestamp"), q.Get("nonce")) {
							t.Fatalf("signature does not verify: %v", q)
						}
						if wechat.VerifySignature("other-token", q.Get("signature"), q.Get("timestamp"), q.Get("nonce")) {
							t.Fatal("signature verifies with another token")
						}
						if got, want := q.Get("timestamp"), strconv.FormatInt(created.Unix(), 10); got != want {
							t.Fatalf("timestamp=%s, want %s", got, want)
						}

						msg := cb.Body
						if got, want := q.Get("encrypt_type") == "aes", safe; got != want {
							t.Fatalf("encrypt_type=%q, safe mode %v", q.Get("encrypt_type"), safe)
						}
						if safe {
							env, err := wechat.ParseEnvelope(cb.Body, isJSON)
							if err != nil {
								t.Fatalf("ParseEnvelope: %v\n%s", err, cb.Body)
							}
							if got, want := env.ToUserName, originalID; got != want {
								t.Fatalf("envelope ToUserName=%q, want %q", got, want)
							}
							if !wechat.VerifyMsgSignature(token, q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), env.Encrypt) {
								t.Fatal("msg_signature does not verify")
							}
							if wechat.VerifyMsgSignature(token, q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), env.Encrypt+"x") {
								t.Fatal("msg_signature verifies another ciphertext")
							}
							var appID string
							msg, appID, err = mustCipher(t, otherKey).Decrypt(env.Encrypt)
							if err != nil {
								t.Fatalf("Decrypt: %v", err)
							}
							if got, want := appID, testAppID; got != want {
								t.Fatalf("appID=%q, want %q", got, want)
							}
							if _, _, err := mustCipher(t, sampleKey).Decrypt(env.Encrypt); err == nil {
								t.Fatal("decrypted with another app's key")
							}
						}

						m, err := wechat.ParseMessage(msg, isJSON)
						if err != nil {
							t.Fatalf("ParseMessage: %v\n%s", err, msg)
						}
						wantList := make([]wechat.SubscribeItem, n)
						for i, it := range ev.List {
							wantList[i] = want(typ, it)
						}
						wantMsg := wechat.Message{
							ToUserName: originalID, FromUserName: openID, CreateTime: created.Unix(),
							MsgType: wechat.MsgTypeEvent, Event: typ, List: wantList,
						}
						if !reflect.DeepEqual(*m, wantMsg) {
							t.Fatalf("message\n got %+v\nwant %+v\nfrom %s", *m, wantMsg, msg)
						}
					})
				}
			}
		}
	}
}

// TestCallback_SimEventNames pins the package's event constants to the
// simulator's, two independent readings of the same documentation.
func TestCallback_SimEventNames(t *testing.T) {
	t.Parallel()
	for _, tt := range [][2]string{
		{wechat.EventSubscribePopup, wechatsim.EventPopup},
		{wechat.EventSubscribeChange, wechatsim.EventChange},
		{wechat.EventSubscribeSent, wechatsim.EventSent},
	} {
		if tt[0] != tt[1] {
			t.Errorf("wechat %q, wechatsim %q", tt[0], tt[1])
		}
	}
}
