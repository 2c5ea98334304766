package wechat

import (
	"bytes"
	"encoding/json"
	"testing"
)

// stdString is what encoding/json makes of s with HTML escaping off.
func stdString(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}

var jsonStringSeeds = []string{
	"",
	"plain",
	`<b>R&D</b> "quoted" back\slash`,
	"tab\tnl\ncr\rbs\bff\fnul\x00esc\x1bdel\x7f",
	"中文 ¥1.00 emoji 😀",
	"line\u2028para\u2029",
	"bad utf8 \xff\xfe end",
	"truncated \xe4\xb8",
	"surrogate \xed\xa0\x80",
}

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	for _, s := range jsonStringSeeds {
		if got, want := string(appendJSONString(nil, s)), stdString(t, s); got != want {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendJSONString(nil, s)), stdString(t, s); got != want {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

// TestAppendSubscribeIsJSON checks the hand-written body against
// encoding/json's reading of it.
func TestAppendSubscribeIsJSON(t *testing.T) {
	t.Parallel()
	m := &SubscribeMessage{
		ToUser: "o\"1", TemplateID: "t<1>", Page: "p?a=1&b=2",
		Data:             Data{"thing1": "a\nb", "time2": "2020-01-01 00:00", "k\u2028": "\xff"},
		MiniprogramState: MiniprogramStateDeveloper, Lang: LangZhCN,
	}
	var got struct {
		ToUser           string                       `json:"touser"`
		TemplateID       string                       `json:"template_id"`
		Page             string                       `json:"page"`
		Data             map[string]map[string]string `json:"data"`
		MiniprogramState string                       `json:"miniprogram_state"`
		Lang             string                       `json:"lang"`
	}
	b := appendSubscribe(nil, m)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got.ToUser != m.ToUser || got.TemplateID != m.TemplateID || got.Page != m.Page ||
		got.MiniprogramState != m.MiniprogramState || got.Lang != m.Lang || len(got.Data) != 3 ||
		got.Data["thing1"]["value"] != "a\nb" || got.Data["k\u2028"]["value"] != "\uFFFD" {
		t.Fatalf("round trip: %s -> %+v", b, got)
	}
	if n := subscribeSize(m); len(b) > n {
		t.Errorf("subscribeSize = %d, body is %d bytes: the estimate should cover ordinary messages", n, len(b))
	}
}

func TestFlexString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{`"616"`: "616", `616`: "616", `null`: "", `2367374098364457001`: "2367374098364457001"} {
		var s flexString
		if err := json.Unmarshal([]byte(in), &s); err != nil || string(s) != want {
			t.Errorf("%s: %q, %v", in, s, err)
		}
	}
	for _, in := range []string{`true`, `{}`, `[]`} {
		var s flexString
		if err := json.Unmarshal([]byte(in), &s); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
	var n flexInt
	if err := json.Unmarshal([]byte(`"42"`), &n); err != nil || n != 42 {
		t.Errorf(`"42": %d, %v`, n, err)
	}
	if err := json.Unmarshal([]byte(`"x"`), &n); err == nil {
		t.Errorf(`"x": no error`)
	}
}

func TestClassOfCodeCredentialEndpoints(t *testing.T) {
	t.Parallel()
	for _, p := range []string{pathToken, pathStableToken, pathCode2Session} {
		if got := classOfCode(p, 40001); got != ClassPermanent {
			t.Errorf("%s 40001: %v", p, got)
		}
		if got := classOfCode(p, -1); got != ClassRetry {
			t.Errorf("%s -1: %v", p, got)
		}
	}
	if got := classOfCode(pathSubscribeSend, 40001); got != ClassToken {
		t.Errorf("send 40001: %v", got)
	}
}
