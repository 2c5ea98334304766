package wxnotify_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify"
)

// Every error code has its own status, and a client reads the code back
// from it: the server and the Go client share the one table.
func TestErrorStatusCode_RoundTrip(t *testing.T) {
	seen := map[int]string{}
	for _, code := range []string{
		wxnotify.ECONFLICT, wxnotify.EINTERNAL, wxnotify.EINVALID, wxnotify.ENOTFOUND,
		wxnotify.EUNAUTHORIZED, wxnotify.EFORBIDDEN, wxnotify.ERATELIMIT, wxnotify.EUNAVAILABLE,
	} {
		status := wxnotify.ErrorStatusCode(code)
		if other, ok := seen[status]; ok {
			t.Fatalf("%s and %s both answer %d", code, other, status)
		}
		seen[status] = code
		if got := wxnotify.ErrorCodeFromStatus(status); got != code {
			t.Errorf("status %d of %s reads back as %s", status, code, got)
		}
	}
	if got := wxnotify.ErrorStatusCode("no_such_code"); got != 500 {
		t.Errorf("unknown code answers %d, want 500", got)
	}
	if got := wxnotify.ErrorCodeFromStatus(418); got != wxnotify.EINTERNAL {
		t.Errorf("status 418 reads as %s, want %s", got, wxnotify.EINTERNAL)
	}
}

// A keyword value decodes from a string or WeChat's {"value": …} and
// encodes as a plain string.
func TestDataValue_JSON(t *testing.T) {
	var req wxnotify.MessageRequest
	if err := json.Unmarshal([]byte(`{"data":{"thing1":"书","time2":{"value":"15:01","color":"#173177"}}}`), &req); err != nil {
		t.Fatal(err)
	}
	if req.Data["thing1"] != "书" || req.Data["time2"] != "15:01" {
		t.Fatalf("data %v", req.Data)
	}
	b, err := json.Marshal(req.Data)
	if err != nil || string(b) != `{"thing1":"书","time2":"15:01"}` {
		t.Fatalf("encoded %s, %v", b, err)
	}
	for _, bad := range []string{`{}`, `{"value":null}`, `["v"]`, `true`, `null`, `{"value":false}`, `{"value":{"value":"v"}}`, `{"value":[1]}`} {
		var v wxnotify.DataValue
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s decoded to %q", bad, v)
		}
	}
}

// A JSON number is a value, as at WeChat, kept as the text it was written
// with: no float on the way, so no digit is lost or added.
func TestDataValue_JSONNumber(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`123`:                                "123",
		`1.50`:                               "1.50",
		` 0 `:                                "0",
		`12345678901234567890123456789`:      "12345678901234567890123456789",
		`{"value":-5}`:                       "-5",
		`{"value": 1e3, "color": "#173177"}`: "1e3",
	} {
		var v wxnotify.DataValue
		if err := json.Unmarshal([]byte(in), &v); err != nil || string(v) != want {
			t.Errorf("%s decoded to %q, %v; want %q", in, v, err, want)
		}
	}
	var req wxnotify.MessageRequest
	if err := json.Unmarshal([]byte(`{"data":{"number1":{"value":123},"amount2":99.90}}`), &req); err != nil {
		t.Fatal(err)
	}
	if req.Data["number1"] != "123" || req.Data["amount2"] != "99.90" {
		t.Fatalf("data %v", req.Data)
	}
	for in, want := range map[string]string{`true`: "boolean", `{"value":null}`: "null", `[]`: "array"} {
		var v wxnotify.DataValue
		if err := json.Unmarshal([]byte(in), &v); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to say %q", in, err, want)
		}
	}
}
