package wechatsim_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify/wechatsim"
)

// TestSaveLoad: a simulator loaded from another's snapshot knows its apps,
// templates, acceptances, form_ids and tokens, and gives the same answers.
func TestSaveLoad(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	legacy := tb.sim.AddLegacyTemplateDirect(appID, "购买成功通知", "物品名称", "购买时间")
	tb.sim.GrantSubscribe(appID, "oA", tb.tpl, 2)
	form := tb.sim.MintFormID(appID, "oA")
	usedForm := tb.sim.MintFormID(appID, "oA")
	if code, msg := errcode(t, tb.sim, "POST", sendPath(tb.token), sendBody("oA", tb.tpl, "thing1", "书", "time2", "2026-01-02 15:04")); code != 0 {
		t.Fatalf("send before save: %d %s", code, msg)
	}
	legacyBody := func(form string) string {
		b, _ := json.Marshal(map[string]any{"touser": "oA", "template_id": legacy, "form_id": form,
			"data": map[string]any{"keyword1": map[string]string{"value": "咖啡"}, "keyword2": map[string]string{"value": "2016年6月6日"}}})
		return string(b)
	}
	legacyPath := "/cgi-bin/message/wxopen/template/send?access_token=" + tb.token
	if code, msg := errcode(t, tb.sim, "POST", legacyPath, legacyBody(usedForm)); code != 0 {
		t.Fatalf("legacy send before save: %d %s", code, msg)
	}

	var buf bytes.Buffer
	if err := tb.sim.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "session_key") {
		t.Fatal("a snapshot holds no session keys")
	}
	again := wechatsim.New(wechatsim.Options{})
	if err := again.Load(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}

	if got, ok := again.AppSecret(appID); !ok || got != secret {
		t.Fatalf("AppSecret=%q,%v", got, ok)
	}
	if got := again.FindTemplate(appID, "订单发货通知", false); got != tb.tpl {
		t.Fatalf("FindTemplate=%q, want %q", got, tb.tpl)
	}
	if got := again.FindTemplate(appID, "购买成功通知", true); got != legacy {
		t.Fatalf("FindTemplate(legacy)=%q, want %q", got, legacy)
	}
	if got, want := again.Grants(appID, "oA", tb.tpl), 1; got != want {
		t.Fatalf("Grants=%d, want %d", got, want)
	}
	if got, want := len(again.Inbox(appID, "oA")), 2; got != want {
		t.Fatalf("inbox holds %d, want %d", got, want)
	}
	// The old token, the remaining acceptance and the unused form_id work;
	// the used form_id is still used.
	if code, msg := errcode(t, again, "POST", sendPath(tb.token), sendBody("oA", tb.tpl, "thing1", "书", "time2", "2026-01-02 15:04")); code != 0 {
		t.Fatalf("send after load: %d %s", code, msg)
	}
	if code, _ := errcode(t, again, "POST", sendPath(tb.token), sendBody("oA", tb.tpl, "thing1", "书", "time2", "2026-01-02 15:04")); code != 43101 {
		t.Fatalf("send past the acceptances: %d, want 43101", code)
	}
	if code, msg := errcode(t, again, "POST", legacyPath, legacyBody(form)); code != 0 {
		t.Fatalf("legacy send with a saved form_id: %d %s", code, msg)
	}
	if code, _ := errcode(t, again, "POST", legacyPath, legacyBody(usedForm)); code != 41028 && code != 41029 {
		t.Fatalf("used form_id after load: %d, want 41028 or 41029", code)
	}

	t.Run("ErrVersion", func(t *testing.T) {
		t.Parallel()
		if err := wechatsim.New(wechatsim.Options{}).Load(strings.NewReader(`{"version":99}`)); err == nil {
			t.Fatal("a snapshot of another version loaded")
		}
	})
}
