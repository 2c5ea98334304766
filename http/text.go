package http

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/wxnotify/wxnotify"
)

// checkJSONText refuses a JSON document whose strings hold invalid UTF-8 or
// a lone surrogate escape ("\ud800" not followed by a low surrogate, or a
// low one alone). encoding/json decodes both to U+FFFD without an error, so
// the check must be made on the raw bytes, before decoding; what the
// decoded values may hold (NUL, control characters) is the domain's rule,
// wxnotify.CheckText. The error is EINVALID naming the field under prefix
// ("data.thing1", "recipients[3].openid"). A document that is not valid
// JSON is left to the decoder to refuse.
func checkJSONText(b []byte, prefix string) error {
	if utf8.Valid(b) && loneSurrogate(b) < 0 {
		return nil // the common case: one pass, no allocation
	}
	return findBadText(b, prefix)
}

// loneSurrogate returns the offset of the first \u escape in b that is a
// surrogate not forming a pair, or -1. Outside strings a backslash is a
// syntax error anyway, so b is scanned without tracking strings.
func loneSurrogate(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 >= len(b) || b[i+1] != 'u' {
			i++ // an escaped character: skip it, so `\\ud800` is not an escape
			continue
		}
		r, ok := hex4(b, i+2)
		switch {
		case !ok:
			return -1 // malformed: the decoder says so
		case r >= 0xd800 && r < 0xdc00:
			if lo, ok := hex4(b, i+8); ok && b[i+6] == '\\' && b[i+7] == 'u' && lo >= 0xdc00 && lo < 0xe000 {
				i += 11
				continue
			}
			return i
		case r >= 0xdc00 && r < 0xe000:
			return i
		}
		i += 5
	}
	return -1
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[at:at+4]), 16, 16)
	return rune(v), err == nil
}

// findBadText walks b's tokens to name the string at fault.
func findBadText(b []byte, prefix string) error {
	type frame struct {
		obj     bool
		key     string
		idx     int
		wantKey bool
	}
	var stack []frame
	path := func(last string) string {
		p := prefix
		for _, f := range stack {
			switch {
			case !f.obj:
				p += "[" + strconv.Itoa(f.idx) + "]"
			case f.wantKey: // the key itself is at fault: stop at its object
			case p == "":
				p = f.key
			default:
				p += "." + f.key
			}
		}
		if last != "" {
			if p == "" {
				return last
			}
			return p + "." + last
		}
		return p
	}
	done := func() { // a value ended: move its container on
		if len(stack) == 0 {
			return
		}
		if top := &stack[len(stack)-1]; top.obj {
			top.wantKey = true
		} else {
			top.idx++
		}
	}
	bad := func(span []byte) bool { return !utf8.Valid(span) || loneSurrogate(span) >= 0 }
	refuse := func(field string) error {
		return wxnotify.FieldErrorf(field, "not valid UTF-8 text: invalid bytes or a lone surrogate escape such as \\ud800; it is refused, not rewritten")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var prev int64
	for {
		tok, err := dec.Token()
		if err != nil {
			if bad(b[prev:]) { // the fault is where the decoder stopped
				return refuse(path(""))
			}
			return nil
		}
		end := dec.InputOffset()
		span := b[prev:end]
		prev = end
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, frame{obj: true, wantKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				done()
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
				if bad(span) {
					return refuse(path(""))
				}
				stack[n-1].key, stack[n-1].wantKey = v, false
				continue
			}
			if bad(span) {
				return refuse(path(""))
			}
			done()
		default:
			done()
		}
	}
}
