package wxnotify_test

import (
	"testing"

	"github.com/wxnotify/wxnotify"
)

func TestMessageCheckText(t *testing.T) {
	t.Parallel()
	ok := func() *wxnotify.Message {
		return &wxnotify.Message{AppID: "wx1", OpenID: "o1", TemplateID: "T", Data: map[string]string{"thing1": "周末特价 ok \ufffd"}}
	}
	if err := ok().CheckText(); err != nil {
		t.Fatalf("plain text refused: %v", err)
	}
	for _, tc := range []struct {
		name, field string
		edit        func(m *wxnotify.Message)
	}{
		{"NULOpenID", "openid", func(m *wxnotify.Message) { m.OpenID = "o\x00" }},
		{"InvalidUTF8TemplateID", "template_id", func(m *wxnotify.Message) { m.TemplateID = "T\xff" }},
		{"SurrogateBytesPage", "page", func(m *wxnotify.Message) { m.Page = "p\xed\xa0\x80" }},
		{"DELValue", "data.thing1", func(m *wxnotify.Message) { m.Data["thing1"] = "a\x7f" }},
		{"TabValue", "data.thing1", func(m *wxnotify.Message) { m.Data["thing1"] = "a\tb" }},
		{"NewlineSubscribe", "data.thing1", func(m *wxnotify.Message) { m.Data["thing1"] = "a\nb" }},
		{"IdempotencyKey", "idempotency_key", func(m *wxnotify.Message) { m.IdempotencyKey = "k\x1b" }},
		{"DataKey", "data", func(m *wxnotify.Message) { m.Data["thing\x002"] = "x" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ok()
			tc.edit(m)
			err := m.CheckText()
			if wxnotify.ErrorCode(err) != wxnotify.EINVALID || wxnotify.ErrorField(err) != tc.field {
				t.Fatalf("err=%v, want EINVALID naming %q", err, tc.field)
			}
		})
	}
	// Legacy template messages may break lines in a value.
	m := ok()
	m.Kind, m.Data = wxnotify.MessageTemplate, map[string]string{"keyword1": "line 1\nline 2\r\nline 3"}
	if err := m.CheckText(); err != nil {
		t.Fatalf("line breaks in a legacy value: %v", err)
	}
}
