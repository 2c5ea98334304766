package http

// Fuzz targets of the parsers of request bodies (internal test: they call the
// unexported decoders directly, without a listener).

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
)

// wantInvalid fails unless err is a *wxnotify.Error with code EINVALID:
// every refusal of a body is a 400 that says what is wrong, never a 500.
func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	if code := wxnotify.ErrorCode(err); code != wxnotify.EINVALID {
		t.Fatalf("%s: %v: code %s, want %s", what, err, code, wxnotify.EINVALID)
	}
}

func fuzzRequest(body []byte, contentType string) (*httptest.ResponseRecorder, *http.Request) {
	r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	return httptest.NewRecorder(), r
}

// FuzzHTTPMessageRequest: POST /v1/messages bodies, through decodeJSON and
// wxnotify.MessageRequest.Message, with wxnotify.DataValue's two forms.
func FuzzHTTPMessageRequest(f *testing.F) {
	for _, s := range []string{
		`{"appid":"wx0123456789abcdef","openid":"o1","template_id":"T","data":{"thing1":"书","time2":{"value":"15:01"}}}`,
		`{"appid":"a","openid":"o","template_id":"T","data":{"k":{"value":null}},"ttl":"24h","send_at":"2026-01-02T03:04:05Z"}`,
		`{"data":{"k":{"value":"v","color":"#fff"}}}`, `{"ttl":"-1s"}`, `{"ttl":"9999999h"}`, `{"kind":"template","emphasis_keyword":"keyword1.DATA"}`,
		`{"data":{"k":1}}`, `{"unknown":1}`, `{} {}`, `[`, ``, `{"send_at":"yesterday"}`, `{"data":{"k":"\ud800"}}`,
		// Keys in another case (encoding/json matches them), a body that is
		// not an object, bytes that are not UTF-8, a cut escape, blanks only.
		`{"APPID":"a","OpenID":"o","Template_ID":"T","DATA":{"thing1":"x"}}`, "\"\xe0\xff\x88\xab\"", `"\u00`,
		`-1`, `100000000`, `0.000000000`, `[[[[0`, "\t\r\n", "\xa7", `{"":000`,
	} {
		f.Add([]byte(s))
	}
	s := NewServer()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req wxnotify.MessageRequest
		w, r := fuzzRequest(body, "application/json")
		if err := s.decodeJSON(w, r, &req); err != nil {
			wantInvalid(t, "decode", err)
			return
		}
		m, err := req.Message(now)
		if err != nil {
			wantInvalid(t, "message", err)
			return
		}
		if len(m.Data) != len(req.Data) {
			t.Fatalf("data: %d keywords from %d", len(m.Data), len(req.Data))
		}
		if req.TTL != "" && !m.ExpiresAt.After(now) {
			t.Fatalf("ttl %q gave expiry %v, not after now", req.TTL, m.ExpiresAt)
		}
	})
}

// FuzzHTTPDataValue: a keyword value decodes from a string, a number, or
// {"value": either} and nothing else, and a decoded value re-encodes to the
// same value.
func FuzzHTTPDataValue(f *testing.F) {
	for _, s := range []string{
		`"v"`, `{"value":"v"}`, `{"value":"v","color":"#173177"}`, `{"value":null}`, `{}`, `1`, `null`, `["v"]`, `"\u00e9\n"`,
		// Bytes that are not UTF-8, cut or bad escapes, a lone surrogate, a
		// key in another case or twice, padding, numbers, nesting.
		"\"\xf3\x9400\"", `"\ua`, `"\u0x`, `"\ud800"`, `"\b\b"`, `{"VALUE":"v"}`, `{"value":"v","value":"w"}`,
		"   \"v\"   ", `0e00000`, `-0`, `[[[[0`, "{\"\":\"\x0f", `""`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v wxnotify.DataValue
		if err := v.UnmarshalJSON(b); err != nil {
			return
		}
		enc, _ := json.Marshal(string(v))
		var again wxnotify.DataValue
		if err := again.UnmarshalJSON(enc); err != nil || again != v {
			t.Fatalf("%q decoded to %q, which re-decodes to %q (%v)", b, v, again, err)
		}
	})
}

// FuzzHTTPBroadcastBody: POST /v1/broadcasts bodies, JSON and NDJSON,
// through the streaming header decoder and the recipient iterator.
func FuzzHTTPBroadcastBody(f *testing.F) {
	for _, s := range []struct {
		body   string
		ndjson bool
	}{
		{`{"appid":"wx0123456789abcdef","template_id":"T","data":{"thing1":"x"},"recipients":["o1",{"openid":"o2","data":{"thing1":{"value":"y"}}}]}`, false},
		{`{"appid":"a","template_id":"T","data":{"thing1":"x"}}` + "\n" + `"o1"` + "\n" + `{"openid":"o2"}` + "\n", true},
		{`{"recipients":[],"appid":"a"}`, false}, {`{"appid":"a","recipients":["o1"]} {}`, false},
		{`{"appid":"a","recipients":["o1",]}`, false}, {`{"appid":"a","recipients":[{"openid":"o","x":1}]}`, false},
		{`{"recipients":["o1"]}` + "\n", true}, {`{"appid":"a"}` + "\n" + `1` + "\n", true}, {`[`, false}, {``, true},
		{`{"appid":"a","recipients":[{"openid":"o","data":{"k":[]}}]}`, false},
		// Keys in another case, empty keys, a body or a header line that is not
		// an object (a string with bytes that are not UTF-8, a number, a
		// control character), blank lines.
		{`{"APPID":"a","templAte_id":"T","dAtA":{"thing1":"x"},"Recipients":["o1"]}`, false},
		{`{"":"","0":{},"recipients":[`, false}, {`{"0":"","":[{"":{"":[]}}]}`, false},
		{"\"\xff000\xbd\xbd\"", false}, {`-1`, true}, {`0.0`, false}, {"\x7f", true}, {"\n\n\n\n", true},
		{`{"appid":"a","template_id":"T"}` + "\n\n" + `"o1"` + "\n" + `"\u00`, true},
	} {
		f.Add([]byte(s.body), s.ndjson)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		var req wxnotify.BroadcastRequest
		recipients, err := readBroadcast(bytes.NewReader(body), ndjson, &req)
		if err != nil {
			wantInvalid(t, "header", err)
			return
		}
		if _, err := req.Broadcast(now); err != nil {
			wantInvalid(t, "broadcast", err)
		}
		n, errs := 0, 0
		for r, err := range recipients {
			if errs > 0 {
				t.Fatal("a recipient after an error")
			}
			if err != nil {
				errs++
				wantInvalid(t, "recipient", err)
				if f := wxnotify.ErrorField(err); f != "" && !strings.HasPrefix(f, "recipients") {
					t.Fatalf("recipient error names field %q", f)
				}
				continue
			}
			n++
			_ = r
			if n > len(body) {
				t.Fatalf("%d recipients from %d bytes", n, len(body))
			}
		}
	})
}

// FuzzHTTPScheduleRequest: POST /v1/schedules bodies, through decodeJSON,
// wxnotify.ScheduleRequest.Schedule and the schedule's own checks.
func FuzzHTTPScheduleRequest(f *testing.F) {
	for _, s := range []string{
		`{"appid":"wx0123456789abcdef","name":"daily","cron":"0 9 * * *","timezone":"Asia/Shanghai","message":{"openid":"o1","template_id":"T","data":{"thing1":"x"}}}`,
		`{"appid":"a","name":"n","cron":"@every 1h","message":{"openids":["o1","o2"],"template_id":"T","data":{"k":{"value":"v"}},"ttl":"1h"}}`,
		`{"appid":"a","name":"n","cron":"x","message":{"openid":"o1","openids":["o2"]}}`,
		`{"appid":"a","name":"n","cron":"x","timezone":"Local","message":{"openids":["o1","o1"]}}`,
		`{"message":{"ttl":"forever"}}`, `{"message":[]}`, `{}`, `null`,
		// A field of the wrong type, keys that are not UTF-8, a body that is
		// not an object, cut strings.
		`{"cron":"","message":{"aaaa0":"","openid":[]}}`, "{\"a\xc0aa0\":[]}", "\"\xff\xff\xff\"", `0e000`, `"\`,
		`{"":"",`, "\r\r\r\r0000", `-1`,
	} {
		f.Add([]byte(s))
	}
	s := NewServer()
	f.Fuzz(func(t *testing.T, body []byte) {
		var req wxnotify.ScheduleRequest
		w, r := fuzzRequest(body, "application/json")
		if err := s.decodeJSON(w, r, &req); err != nil {
			wantInvalid(t, "decode", err)
			return
		}
		sc, err := req.Schedule()
		if err != nil {
			wantInvalid(t, "schedule", err)
			return
		}
		if err := sc.Validate(); err != nil {
			wantInvalid(t, "validate", err)
			if wxnotify.ErrorField(err) == "" {
				t.Fatalf("validate: %v names no field", err)
			}
		}
	})
}

// FuzzHTTPMiniProgramBody: mini-program bodies (form_ids and the result of
// wx.requestSubscribeMessage): never a panic, a body naming a user is always
// refused, and what is accepted is within the documented limits.
func FuzzHTTPMiniProgramBody(f *testing.F) {
	for _, s := range []string{
		`{"form_ids":["f1","the formId is a mock one"]}`, `{"form_ids":[]}`, `{"form_ids":null}`, `{"form_ids":[""]}`,
		`{"form_ids":["f1"],"openid":"o2"}`, `{"form_ids":["f1"],"OpenId":"o2"}`,
		`{"TPL_1":"accept","TPL-2":"reject","errMsg":"requestSubscribeMessage:ok"}`, `{"TPL 1":"accept"}`,
		`{"TPL1":"maybe"}`, `{"TPL1":1}`, `{"errMsg":"x"}`, `{"touser":"o","TPL1":"accept"}`, `[]`, `null`, `{"a":"accept","a":"reject"}`,
		// Empty and non-UTF-8 keys, keys with an underscore and a space, a cut
		// body, a body that is not an object.
		`{"":"accept"}`, `{"0":"","":""}`, "{\"\xa7\xa7\xa700\":[\"\"]}", `{"0000_ 00":["",""]}`, "nul\x82",
		`{"TPL1":"accept",`, `[[]]`, `1`, ``,
	} {
		f.Add([]byte(s))
	}
	s := NewServer()
	f.Fuzz(func(t *testing.T, body []byte) {
		w, r := fuzzRequest(body, "application/json")
		fields, err := s.decodeMiniProgram(w, r, nil)
		namesUser := false
		for k := range fields {
			for _, u := range userFields {
				namesUser = namesUser || strings.EqualFold(k, u)
			}
		}
		if err != nil {
			wantInvalid(t, "decode", err)
			return
		}
		if namesUser {
			t.Fatalf("body %q names a user and was accepted", body)
		}
		result, accepted, err := parseSubscribeResult(fields)
		if err != nil {
			wantInvalid(t, "subscriptions", err)
		} else {
			if len(result) == 0 || len(result) > MaxSubscribeAnswers || accepted > len(result) {
				t.Fatalf("%d answers, %d accepted", len(result), accepted)
			}
			for k := range result {
				if !isTemplateID(k) || len(k) > MaxTemplateIDLen {
					t.Fatalf("template id %q accepted", k)
				}
			}
		}
		var req FormIDsRequest
		w, r = fuzzRequest(body, "application/json")
		if _, err := s.decodeMiniProgram(w, r, &req); err != nil {
			wantInvalid(t, "form_ids decode", err)
			return
		}
		if err := validateFormIDs(req.FormIDs); err != nil {
			wantInvalid(t, "form_ids", err)
			return
		}
		for _, id := range req.FormIDs {
			if id == "" || len(id) > MaxCreditValueLen {
				t.Fatalf("form_id %q accepted", id)
			}
		}
	})
}
