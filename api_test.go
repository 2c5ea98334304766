package wxnotify_test

import (
	"encoding/json"
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
	for _, bad := range []string{`1`, `{}`, `{"value":null}`, `["v"]`} {
		var v wxnotify.DataValue
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s decoded to %q", bad, v)
		}
	}
}
