package wxnotify_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify"
)

func sprint(v any) string         { return fmt.Sprintf("%v %+v %s", v, v, v) }
func sprintv(v any) string        { return fmt.Sprintf("%#v", v) }
func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestSecretEncodings(t *testing.T) {
	t.Parallel()
	tok := wxnotify.AccessToken{AppID: "wx0123456789abcdef", Value: "tok-VALUE-123"}
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "token", tok.Value, "t", tok)
	for _, out := range []string{string(b), buf.String(), sprint(tok), sprintv(tok)} {
		if strings.Contains(out, "tok-VALUE-123") {
			t.Fatalf("token visible: %s", out)
		}
	}
	if got := wxnotify.Mask("abcdefghijkl"); strings.Contains(got, "efgh") || !strings.HasPrefix(got, "abcd") {
		t.Fatalf("Mask=%q", got)
	}
}

func TestAppValidate(t *testing.T) {
	t.Parallel()
	ok := wxnotify.App{AppID: "wx0123456789abcdef", Secret: "s"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for field, app := range map[string]wxnotify.App{
		"appid":      {AppID: "wx123", Secret: "s"},
		"secret":     {AppID: "wx0123456789abcdef"},
		"token_mode": {AppID: "wx0123456789abcdef", Secret: "s", TokenMode: "weird"},
	} {
		err := app.Validate()
		if wxnotify.ErrorCode(err) != wxnotify.EINVALID || wxnotify.ErrorField(err) != field {
			t.Errorf("%s: err=%v", field, err)
		}
	}
}
