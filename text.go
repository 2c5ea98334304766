package wxnotify

import (
	"fmt"
	"unicode/utf8"
)

// Text that wxnotify stores and sends to WeChat is checked, never rewritten:
// a value that is not text is refused naming its field, so what WeChat
// receives is byte for byte what the caller sent. The HTTP API checks the
// raw body first, because Go's JSON decoder turns invalid UTF-8 and lone
// surrogate escapes ("\ud800") into U+FFFD without a word; what reaches
// these checks has been decoded, so invalid UTF-8 here came from another
// path (the Go API, a stored row).

// CheckText returns an EINVALID error naming field when s is not text
// WeChat accepts in an identifier or a value: invalid UTF-8 (which includes
// a surrogate code point, U+D800–U+DFFF, that UTF-8 cannot carry), NUL or
// any other C0 control character (U+0000–U+001F), or DEL (U+007F). None of
// them can be shown in a notification, and NUL truncates the value in some
// of the systems it passes through.
func CheckText(field, s string) error {
	return checkText(field, s, false)
}

// checkText is CheckText; newlines allows '\n' (and "\r\n"), which legacy
// template messages show as line breaks.
func checkText(field, s string, newlines bool) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !validRuneAt(s, i):
			return FieldErrorf(field, "not valid UTF-8 at byte %d: send text, not bytes (a lone surrogate such as \\ud800 is not text either)", i)
		case newlines && (r == '\n' || (r == '\r' && i+1 < len(s) && s[i+1] == '\n')):
		case r < 0x20 || r == 0x7f:
			return FieldErrorf(field, "control character %s at byte %d is not allowed", controlName(r), i)
		}
	}
	return nil
}

// validRuneAt reports whether the U+FFFD decoded at s[i:] is really there,
// not the decoder's answer to an invalid byte.
func validRuneAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 3
}

func controlName(r rune) string {
	if r == 0 {
		return "NUL (U+0000)"
	}
	return fmt.Sprintf("U+%04X", r)
}

// CheckText checks every text field of m with CheckText, naming the field
// ("openid", "data.thing1"); data values of legacy template messages may hold
// line breaks. Delivery calls it before any other rule of the message.
func (m *Message) CheckText() error {
	for _, f := range []struct{ name, value string }{
		{"appid", m.AppID}, {"openid", m.OpenID}, {"kind", string(m.Kind)}, {"template_id", m.TemplateID},
		{"page", m.Page}, {"miniprogram_state", m.MiniprogramState}, {"lang", m.Lang},
		{"emphasis_keyword", m.EmphasisKeyword}, {"idempotency_key", m.IdempotencyKey},
	} {
		if err := CheckText(f.name, f.value); err != nil {
			return err
		}
	}
	for k, v := range m.Data {
		if err := CheckText("data", k); err != nil {
			return err
		}
		if err := checkText("data."+k, v, m.Kind == MessageTemplate); err != nil {
			return err
		}
	}
	return nil
}
