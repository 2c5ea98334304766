package wechat_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify/wechat"
)

// Bodies as WeChat documents them (subscribe-message.html and the service
// account's subscription push page) and as the community reported them
// really arriving. Whitespace and CDATA are kept as published.
const (
	docPopupXML = `<xml>
    <ToUserName><![CDATA[gh_123456789abc]]></ToUserName>
    <FromUserName><![CDATA[otFpruAK8D-E6EfStSYonYSBZ8_4]]></FromUserName>
    <CreateTime>1610969440</CreateTime>
    <MsgType><![CDATA[event]]></MsgType>
    <Event><![CDATA[subscribe_msg_popup_event]]></Event>
    <SubscribeMsgPopupEvent>
        <List>
            <TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId>
            <SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString>
            <PopupScene>2</PopupScene>
        </List>
        <List>
            <TemplateId><![CDATA[9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI]]></TemplateId>
            <SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString>
            <PopupScene>2</PopupScene>
        </List>
    </SubscribeMsgPopupEvent>
</xml>`

	docChangeXML = `<xml>
    <ToUserName><![CDATA[gh_123456789abc]]></ToUserName>
    <FromUserName><![CDATA[otFpruAK8D-E6EfStSYonYSBZ8_4]]></FromUserName>
    <CreateTime>1610969440</CreateTime>
    <MsgType><![CDATA[event]]></MsgType>
    <Event><![CDATA[subscribe_msg_change_event]]></Event>
    <SubscribeMsgChangeEvent>
        <List>          <TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId>
            <SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString>
        </List>
    </SubscribeMsgChangeEvent>
</xml>`

	docSentXML = `<xml>
    <ToUserName><![CDATA[gh_123456789abc]]></ToUserName>
    <FromUserName><![CDATA[otFpruAK8D-E6EfStSYonYSBZ8_4]]></FromUserName>
    <CreateTime>1610969468</CreateTime>
    <MsgType><![CDATA[event]]></MsgType>
    <Event><![CDATA[subscribe_msg_sent_event]]></Event>
    <SubscribeMsgSentEvent>
        <List>       <TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId>
            <MsgID>1700827132819554304</MsgID>
            <ErrorCode>0</ErrorCode>
            <ErrorStatus><![CDATA[success]]></ErrorStatus>
        </List>
    </SubscribeMsgSentEvent>
</xml>`

	// As really sent: List an object for one entry, CreateTime a number.
	realPopupJSON = `{
	"CreateTime": 1688953684,
	"Event": "subscribe_msg_popup_event",
	"FromUserName": "o8dH44seYM3qeBzHlrmwI0sAtSfI",
	"List": {
		"PopupScene": "0",
		"SubscribeStatusString": "accept",
		"TemplateId": "BDcgTGpwt7fcRVFhGh-NvjcASaWWmkwzN3y_6mXzJR4"
	},
	"MsgType": "event",
	"ToUserName": "gh_xxxxxxxxxx"
}`

	// As documented: an array even for one entry, CreateTime a string
	// (and, in the published sample, a trailing comma, removed here).
	docChangeJSON = `{
      "ToUserName": "gh_123456789abc",
      "FromUserName": "o7esq5OI1Uej6Xixw1lA2H7XDVbc",
      "CreateTime": "1610968440",
      "MsgType": "event",
      "Event": "subscribe_msg_change_event",
      "List": [  {
                "TemplateId":"BEwX0BOT3MqK3Uc5oTU3CGBqzjpndk2jzUf7VfExd8",
                "SubscribeStatusString": "reject"
      }]
}`

	docSentJSON = `{
    "ToUserName": "gh_123456789abc",
    "FromUserName": "o7esq5PHRGBQYmeNyfG064wEFVpQ",
    "CreateTime": "1620963428",
    "MsgType": "event",
    "Event": "subscribe_msg_sent_event",
    "List": {
        "TemplateId": "BEwX0BO-T3MqK3Uc5oTU3CGBqzjpndk2jzUf7VfExd8",
        "MsgID": "1864323726461255680",
        "ErrorCode": "0",
        "ErrorStatus": "success"
      }

}`
)

func TestParseMessage(t *testing.T) {
	t.Parallel()
	popupItems := []wechat.SubscribeItem{
		{TemplateID: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", SubscribeStatusString: "accept", PopupScene: "2"},
		{TemplateID: "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI", SubscribeStatusString: "reject", PopupScene: "2"},
	}
	for _, tt := range []struct {
		name   string
		body   string
		isJSON bool
		want   wechat.Message
	}{
		{"DocPopupXML", docPopupXML, false, wechat.Message{
			ToUserName: "gh_123456789abc", FromUserName: "otFpruAK8D-E6EfStSYonYSBZ8_4", CreateTime: 1610969440,
			MsgType: "event", Event: wechat.EventSubscribePopup, List: popupItems,
		}},
		{"DocChangeXML", docChangeXML, false, wechat.Message{
			ToUserName: "gh_123456789abc", FromUserName: "otFpruAK8D-E6EfStSYonYSBZ8_4", CreateTime: 1610969440,
			MsgType: "event", Event: wechat.EventSubscribeChange,
			List: []wechat.SubscribeItem{{TemplateID: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", SubscribeStatusString: "reject"}},
		}},
		{"DocSentXML", docSentXML, false, wechat.Message{
			ToUserName: "gh_123456789abc", FromUserName: "otFpruAK8D-E6EfStSYonYSBZ8_4", CreateTime: 1610969468,
			MsgType: "event", Event: wechat.EventSubscribeSent,
			List: []wechat.SubscribeItem{{TemplateID: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", MsgID: "1700827132819554304", ErrorStatus: "success"}},
		}},
		{"SentXMLFailedCDATA", `<xml><Event>subscribe_msg_sent_event</Event><SubscribeMsgSentEvent><List><TemplateId>T</TemplateId>` +
			`<MsgID><![CDATA[ 2794188253209100289 ]]></MsgID><ErrorCode><![CDATA[10002]]></ErrorCode><ErrorStatus>failed</ErrorStatus></List></SubscribeMsgSentEvent></xml>`, false,
			wechat.Message{Event: wechat.EventSubscribeSent, List: []wechat.SubscribeItem{{TemplateID: "T", MsgID: "2794188253209100289", ErrorCode: 10002, ErrorStatus: "failed"}}},
		},
		{"WrapperOfAnotherEventIgnoredXML", `<xml><Event>subscribe_msg_popup_event</Event><SubscribeMsgSentEvent><List><TemplateId>T</TemplateId></List></SubscribeMsgSentEvent></xml>`, false,
			wechat.Message{Event: wechat.EventSubscribePopup},
		},
		{"RealPopupJSONObject", realPopupJSON, true, wechat.Message{
			ToUserName: "gh_xxxxxxxxxx", FromUserName: "o8dH44seYM3qeBzHlrmwI0sAtSfI", CreateTime: 1688953684,
			MsgType: "event", Event: wechat.EventSubscribePopup,
			List: []wechat.SubscribeItem{{TemplateID: "BDcgTGpwt7fcRVFhGh-NvjcASaWWmkwzN3y_6mXzJR4", SubscribeStatusString: "accept", PopupScene: "0"}},
		}},
		{"DocChangeJSONArrayStringTime", docChangeJSON, true, wechat.Message{
			ToUserName: "gh_123456789abc", FromUserName: "o7esq5OI1Uej6Xixw1lA2H7XDVbc", CreateTime: 1610968440,
			MsgType: "event", Event: wechat.EventSubscribeChange,
			List: []wechat.SubscribeItem{{TemplateID: "BEwX0BOT3MqK3Uc5oTU3CGBqzjpndk2jzUf7VfExd8", SubscribeStatusString: "reject"}},
		}},
		{"DocSentJSONStrings", docSentJSON, true, wechat.Message{
			ToUserName: "gh_123456789abc", FromUserName: "o7esq5PHRGBQYmeNyfG064wEFVpQ", CreateTime: 1620963428,
			MsgType: "event", Event: wechat.EventSubscribeSent,
			List: []wechat.SubscribeItem{{TemplateID: "BEwX0BO-T3MqK3Uc5oTU3CGBqzjpndk2jzUf7VfExd8", MsgID: "1864323726461255680", ErrorStatus: "success"}},
		}},
		{"SentJSONNumbersKeepMsgIDDigits", `{"Event":"subscribe_msg_sent_event","CreateTime":1620963428,"List":[` +
			`{"TemplateId":"A","MsgID":2794188253209100289,"ErrorCode":0,"ErrorStatus":"success"},` +
			`{"TemplateId":"B","MsgID":18446744073709551615,"ErrorCode":10003,"ErrorStatus":"failed"}]}`, true,
			wechat.Message{CreateTime: 1620963428, Event: wechat.EventSubscribeSent, List: []wechat.SubscribeItem{
				{TemplateID: "A", MsgID: "2794188253209100289", ErrorStatus: "success"},
				{TemplateID: "B", MsgID: "18446744073709551615", ErrorCode: 10003, ErrorStatus: "failed"},
			}},
		},
		{"PopupJSONNumberScene", `{"Event":"subscribe_msg_popup_event","List":{"TemplateId":"A","SubscribeStatusString":"accept","PopupScene":0}}`, true,
			wechat.Message{Event: wechat.EventSubscribePopup, List: []wechat.SubscribeItem{{TemplateID: "A", SubscribeStatusString: "accept", PopupScene: "0"}}},
		},
		{"DocumentedWrapperArrayJSON", `{"Event":"subscribe_msg_change_event","SubscribeMsgChangeEvent":[{"TemplateId":"A","SubscribeStatusString":"reject"}]}`, true,
			wechat.Message{Event: wechat.EventSubscribeChange, List: []wechat.SubscribeItem{{TemplateID: "A", SubscribeStatusString: "reject"}}},
		},
		{"DocumentedWrapperListJSON", `{"Event":"subscribe_msg_sent_event","SubscribeMsgSentEvent":{"List":{"TemplateId":"A","MsgID":"1","ErrorCode":"0","ErrorStatus":"success"}}}`, true,
			wechat.Message{Event: wechat.EventSubscribeSent, List: []wechat.SubscribeItem{{TemplateID: "A", MsgID: "1", ErrorStatus: "success"}}},
		},
		{"NullListJSON", `{"Event":"subscribe_msg_popup_event","List":null,"CreateTime":null}`, true,
			wechat.Message{Event: wechat.EventSubscribePopup},
		},
		{"EmptyArrayJSON", `{"Event":"subscribe_msg_popup_event","List":[]}`, true,
			wechat.Message{Event: wechat.EventSubscribePopup},
		},
		// Other pushes parse, with no entries, so the caller can skip them.
		{"TextMessageXML", `<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1409735668</CreateTime>` +
			`<MsgType>  <![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId></xml>`, false,
			wechat.Message{ToUserName: "gh_1", FromUserName: "o1", CreateTime: 1409735668, MsgType: "text"},
		},
		{"UnknownEventJSONWithOddList", `{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714037059,` +
			`"MsgType":"event","Event":"debug_demo","debug_str":"hello world","List":"not a list"}`, true,
			wechat.Message{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", CreateTime: 1714037059, MsgType: "event", Event: "debug_demo"},
		},
		{"UnknownEventXML", `<xml><MsgType>event</MsgType><Event>user_enter_tempsession</Event><SubscribeMsgPopupEvent><List><TemplateId>T</TemplateId></List></SubscribeMsgPopupEvent></xml>`, false,
			wechat.Message{MsgType: "event", Event: "user_enter_tempsession"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := wechat.ParseMessage([]byte(tt.body), tt.isJSON)
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			if !reflect.DeepEqual(*m, tt.want) {
				t.Fatalf("message\n got %+v\nwant %+v", *m, tt.want)
			}
			// Encoded back to JSON (List always an array), it parses the same.
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			m2, err := wechat.ParseMessage(b, true)
			if err != nil {
				t.Fatalf("re-parse %s: %v", b, err)
			}
			if !reflect.DeepEqual(m2, m) {
				t.Fatalf("re-parse of %s\n got %+v\nwant %+v", b, *m2, *m)
			}
		})
	}
}

func TestParseMessage_Errors(t *testing.T) {
	t.Parallel()
	const secret = "SECRETBODY"
	big := `{"Event":"x","Pad":"` + strings.Repeat("a", wechat.MaxPushBodySize) + `"}`
	for _, tt := range []struct {
		name   string
		body   string
		isJSON bool
		want   error
	}{
		{"TooLargeJSON", big, true, wechat.ErrBodyTooLarge},
		{"TooLargeXML", "<xml>" + strings.Repeat(" ", wechat.MaxPushBodySize) + "</xml>", false, wechat.ErrBodyTooLarge},
		{"EmptyJSON", "", true, wechat.ErrInvalidPush},
		{"EmptyXML", "", false, wechat.ErrInvalidPush},
		{"MalformedJSON", `{"Event":"` + secret + `"`, true, wechat.ErrInvalidPush},
		{"BadCharJSON", `{"Event":` + secret + `}`, true, wechat.ErrInvalidPush},
		{"NotAnObjectJSON", `["` + secret + `"]`, true, wechat.ErrInvalidPush},
		{"MalformedXML", `<xml><` + secret + `></xml>`, false, wechat.ErrInvalidPush},
		{"XMLIsNotJSON", docPopupXML, true, wechat.ErrInvalidPush},
		{"JSONIsNotXML", realPopupJSON, false, wechat.ErrInvalidPush},
		{"BadCreateTimeJSON", `{"CreateTime":"` + secret + `"}`, true, wechat.ErrInvalidPush},
		{"FloatCreateTimeJSON", `{"CreateTime":1.5e9}`, true, wechat.ErrInvalidPush},
		{"BadCreateTimeXML", `<xml><CreateTime>` + secret + `</CreateTime></xml>`, false, wechat.ErrInvalidPush},
		{"ListStringJSON", `{"Event":"subscribe_msg_popup_event","List":"` + secret + `"}`, true, wechat.ErrInvalidPush},
		{"ListNumbersJSON", `{"Event":"subscribe_msg_popup_event","List":[1,2]}`, true, wechat.ErrInvalidPush},
		{"TemplateIdObjectJSON", `{"Event":"subscribe_msg_popup_event","List":{"TemplateId":{"x":"` + secret + `"}}}`, true, wechat.ErrInvalidPush},
		{"BadErrorCodeJSON", `{"Event":"subscribe_msg_sent_event","List":{"ErrorCode":"` + secret + `"}}`, true, wechat.ErrInvalidPush},
		{"BadErrorCodeXML", `<xml><Event>subscribe_msg_sent_event</Event><SubscribeMsgSentEvent><List><ErrorCode>` + secret +
			`</ErrorCode></List></SubscribeMsgSentEvent></xml>`, false, wechat.ErrInvalidPush},
		{"BadMsgIDJSON", `{"Event":"subscribe_msg_sent_event","List":{"MsgID":true}}`, true, wechat.ErrInvalidPush},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := wechat.ParseMessage([]byte(tt.body), tt.isJSON)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err=%v (message %+v), want %v", err, m, tt.want)
			}
			if m != nil {
				t.Fatal("message returned with an error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error quotes the body: %v", err)
			}
		})
	}
}

func TestParseEnvelope(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		body    string
		isJSON  bool
		want    wechat.Envelope
		wantErr error
	}{
		{"XML", "<xml>\n  <ToUserName><![CDATA[gh_680bdefc8c5d]]></ToUserName>\n  <Encrypt><![CDATA[" + weixinEnc + "]]></Encrypt>\n</xml>", false,
			wechat.Envelope{ToUserName: "gh_680bdefc8c5d", Encrypt: weixinEnc}, nil},
		{"XMLNoToUserName", "<xml><Encrypt>" + sampleEnc + "</Encrypt></xml>", false, wechat.Envelope{Encrypt: sampleEnc}, nil},
		{"JSON", `{"ToUserName":"gh_97417a04a28d","Encrypt":"` + sampleEnc + `"}`, true,
			wechat.Envelope{ToUserName: "gh_97417a04a28d", Encrypt: sampleEnc}, nil},
		// Compatibility mode sends the plaintext fields beside Encrypt.
		{"JSONCompat", `{"ToUserName":"gh_bdfaa9af5a04","FromUserName":"o","CreateTime":1696991702,"MsgType":"event",` +
			`"Event":"subscribe_msg_change_event","List":{"SubscribeStatusString":"reject","TemplateId":"T"},"Encrypt":"` + sampleEnc + `"}`, true,
			wechat.Envelope{ToUserName: "gh_bdfaa9af5a04", Encrypt: sampleEnc}, nil},
		{"NoEncryptXML", docPopupXML, false, wechat.Envelope{}, wechat.ErrInvalidPush},
		{"NoEncryptJSON", realPopupJSON, true, wechat.Envelope{}, wechat.ErrInvalidPush},
		{"EmptyEncrypt", `{"Encrypt":""}`, true, wechat.Envelope{}, wechat.ErrInvalidPush},
		{"EncryptNumber", `{"Encrypt":12}`, true, wechat.Envelope{}, wechat.ErrInvalidPush},
		{"MalformedXML", `<xml><Encrypt>abc</Encrypted></xml>`, false, wechat.Envelope{}, wechat.ErrInvalidPush},
		{"WrongFormat", `{"Encrypt":"abc"}`, false, wechat.Envelope{}, wechat.ErrInvalidPush},
		{"TooLarge", `{"Encrypt":"` + strings.Repeat("A", wechat.MaxPushBodySize) + `"}`, true, wechat.Envelope{}, wechat.ErrBodyTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, err := wechat.ParseEnvelope([]byte(tt.body), tt.isJSON)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err=%v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEnvelope: %v", err)
			}
			if env != tt.want {
				t.Fatalf("envelope %+v, want %+v", env, tt.want)
			}
		})
	}
}

// FuzzParseMessage feeds arbitrary bodies to ParseMessage (and
// ParseEnvelope) in both formats. Nothing may panic; a message that parses
// must encode to JSON and parse back identical, and only the three
// subscribe events may carry entries.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{docPopupXML, docChangeXML, docSentXML} {
		f.Add([]byte(s), false)
	}
	for _, s := range []string{realPopupJSON, docChangeJSON, docSentJSON} {
		f.Add([]byte(s), true)
	}
	f.Add([]byte(`{"Event":"subscribe_msg_change_event","SubscribeMsgChangeEvent":{"List":[{"TemplateId":"A"},{"TemplateId":"B"}]}}`), true)
	// Encrypted envelopes, as the callback receives them before decryption.
	f.Add([]byte(`<xml><ToUserName><![CDATA[gh_3f9a0c1d2e4b]]></ToUserName><Encrypt><![CDATA[`+sampleEnc+`]]></Encrypt></xml>`), false)
	f.Add([]byte(`{"ToUserName":"gh_3f9a0c1d2e4b","Encrypt":"`+sampleEnc+`"}`), true)
	// A sent event with several entries, some failed.
	f.Add([]byte(`<xml><ToUserName><![CDATA[gh_1]]></ToUserName><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_sent_event]]></Event><SubscribeMsgSentEvent>`+
		`<List><TemplateId><![CDATA[A]]></TemplateId><MsgID>1864323726461255680</MsgID><ErrorCode>0</ErrorCode><ErrorStatus><![CDATA[success]]></ErrorStatus></List>`+
		`<List><TemplateId><![CDATA[B]]></TemplateId><MsgID>2794188253209100289</MsgID><ErrorCode>10003</ErrorCode><ErrorStatus><![CDATA[failed]]></ErrorStatus></List>`+
		`</SubscribeMsgSentEvent></xml>`), false)
	f.Add([]byte(`{"ToUserName":"gh_1","MsgType":"event","Event":"subscribe_msg_sent_event","CreateTime":1714037059,"List":[`+
		`{"ErrorCode":"0","ErrorStatus":"success","MsgID":"1864323726461255680","TemplateId":"A"},`+
		`{"ErrorCode":"10003","ErrorStatus":"failed","MsgID":"2794188253209100289","TemplateId":"B"}]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, isJSON bool) {
		wechat.ParseEnvelope(body, isJSON)
		m, err := wechat.ParseMessage(body, isJSON)
		if err != nil {
			if m != nil {
				t.Fatal("message returned with an error")
			}
			if !errors.Is(err, wechat.ErrInvalidPush) && !errors.Is(err, wechat.ErrBodyTooLarge) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		switch m.Event {
		case wechat.EventSubscribePopup, wechat.EventSubscribeChange, wechat.EventSubscribeSent:
		default:
			if m.List != nil {
				t.Fatalf("event %q has entries", m.Event)
			}
		}
		if len(m.List) == 0 && m.List != nil {
			t.Fatal("empty non-nil List")
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > wechat.MaxPushBodySize {
			return // escaping grew it past the limit
		}
		m2, err := wechat.ParseMessage(b, true)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-parse of %s\n got %+v\nwant %+v", b, *m2, *m)
		}
	})
}
