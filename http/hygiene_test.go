package http_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/testdb"
)

// TestInputHygiene: text that is not text (NUL and other control
// characters, lone surrogates, invalid UTF-8) is refused with 400 naming
// the field, on the real services, and nothing is stored: never rewritten
// to U+FFFD.
func TestInputHygiene(t *testing.T) {
	t.Parallel()
	b := setupSecurity(t, testdb.Engine{Name: "sqlite", NewDB: testdb.NewSQLiteDB})
	msg := func(openid, templateID, value, page string) string {
		return fmt.Sprintf(`{"appid":%q,"openid":"%s","template_id":"%s","data":{"thing1":"%s"},"page":"%s"}`, appA, openid, templateID, value, page)
	}
	bcast := fmt.Sprintf(`{"appid":%q,"template_id":"TPL_B","data":{"thing1":"hi"},"recipients":`, appA)
	for _, tc := range []struct {
		name, path, body, field string
	}{
		{"NULInOpenID", "/v1/messages", msg(`oH\u0000x`, "TPL_B", "hi", ""), "openid"},
		{"ControlInTemplateID", "/v1/messages", msg("oH", `TPL\u0007B`, "hi", ""), "template_id"},
		{"LoneHighSurrogate", "/v1/messages", msg("oH", "TPL_B", `a\ud800b`, ""), "data.thing1"},
		{"LoneLowSurrogate", "/v1/messages", msg("oH", "TPL_B", `\udc00`, ""), "data.thing1"},
		{"HighSurrogateAtEnd", "/v1/messages", msg("oH", "TPL_B", `x\ud83d`, ""), "data.thing1"},
		{"InvalidUTF8", "/v1/messages", msg("oH", "TPL_B", "caf\xe9", ""), "data.thing1"},
		{"InvalidUTF8InPage", "/v1/messages", msg("oH", "TPL_B", "hi", "pages/\xff"), "page"},
		{"NewlineInThing", "/v1/messages", msg("oH", "TPL_B", `a\nb`, ""), "data.thing1"},
		{"NULInPage", "/v1/messages", msg("oH", "TPL_B", "hi", `p\u0000`), "page"},
		{"BroadcastOpenID", "/v1/broadcasts", bcast + `["oH1","oH\ud800"]}`, "recipients[1]"},
		{"BroadcastNULOpenID", "/v1/broadcasts", bcast + `["oH1",{"openid":"o\u0000"}]}`, "recipients[1].openid"},
		{"BroadcastRecipientData", "/v1/broadcasts", bcast + "[{\"openid\":\"oH2\",\"data\":{\"thing1\":\"\xc3\"}}]}", "recipients[0].data.thing1"},
		{"BroadcastHeader", "/v1/broadcasts", fmt.Sprintf(`{"appid":%q,"template_id":"TPL_B\udfff","data":{"thing1":"hi"},"recipients":["oH3"]}`, appA), "template_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := b.want(t, "POST", tc.path, b.keyA, tc.body, 400)
			var e wxnotify.ErrorResponse
			json.Unmarshal([]byte(out), &e)
			if e.Error.Field != tc.field {
				t.Fatalf("field %q, want %q; answer %s", e.Error.Field, tc.field, out)
			}
		})
	}
	// A real surrogate pair, and U+FFFD sent as itself, are text.
	b.want(t, "POST", "/v1/messages", b.keyA, msg("oH", "TPL_B", `\ud83d\ude00ok`, ""), 202)
	b.want(t, "POST", "/v1/messages", b.keyA, msg("oH", "TPL_B", "\ufffd", ""), 202)

	var list wxnotify.MessageList
	json.Unmarshal([]byte(b.want(t, "GET", "/v1/messages?appid="+appA, b.keyA, "", 200)), &list)
	for _, m := range list.Messages {
		if strings.HasPrefix(m.OpenID, "oH") && m.OpenID != "oH" && m.OpenID != "oH1" {
			t.Errorf("stored a refused recipient: %q", m.OpenID)
		}
		if m.OpenID == "oH" && m.Data["thing1"] != "😀ok" && m.Data["thing1"] != "\ufffd" {
			t.Errorf("stored data rewritten: %q", m.Data["thing1"])
		}
	}
}
