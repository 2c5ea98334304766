package wechatsim

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// decodeSubscribe decodes a subscribe send body. The common shape (string fields, data values
// as plain strings without escapes) is parsed by hand, which is several times cheaper than
// reflection; anything else falls back to encoding/json, so the result and every error are
// exactly what json.Unmarshal gives.
func decodeSubscribe(body []byte, req *subscribeRequest) error {
	if fastSubscribe(body, req) {
		return nil
	}
	*req = subscribeRequest{}
	return json.Unmarshal(body, req)
}

// scanner walks a JSON text; any surprise sets bad and the caller falls back.
type scanner struct {
	b   []byte
	i   int
	bad bool
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) byte(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string without escapes that is valid UTF-8 with no control characters.
func (s *scanner) str() string {
	if !s.byte('"') {
		s.bad = true
		return ""
	}
	start := s.i
	ascii := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(v) {
				s.bad = true
			}
			return string(v)
		case c == '\\' || c < 0x20:
			s.bad = true
			return ""
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.i++
	}
	s.bad = true
	return ""
}

// object calls field for each key of an object; field returns false to give up.
func (s *scanner) object(field func(key string) bool) {
	if !s.byte('{') {
		s.bad = true
		return
	}
	if s.byte('}') {
		return
	}
	for !s.bad {
		key := s.str()
		if s.bad || !s.byte(':') || !field(key) {
			s.bad = true
			return
		}
		if s.byte(',') {
			continue
		}
		if !s.byte('}') {
			s.bad = true
		}
		return
	}
}

func fastSubscribe(body []byte, req *subscribeRequest) bool {
	s := &scanner{b: body}
	s.object(func(key string) bool {
		switch key {
		case "touser":
			req.ToUser = s.str()
		case "template_id":
			req.TemplateID = s.str()
		case "page":
			req.Page = s.str()
		case "miniprogram_state":
			req.MiniprogramState = s.str()
		case "lang":
			req.Lang = s.str()
		case "data":
			if req.Data == nil {
				req.Data = make(map[string]dataValue, 5)
			}
			s.object(func(kw string) bool {
				v := req.Data[kw]
				s.object(func(k string) bool {
					val := s.str()
					switch {
					case k == "value":
						v.Value = val
					case strings.EqualFold(k, "value"):
						return false // json matches keys case-insensitively: let it decide
					}
					return true
				})
				req.Data[kw] = v
				return true
			})
		default:
			return false
		}
		return !s.bad
	})
	s.ws()
	return !s.bad && s.i == len(s.b)
}
