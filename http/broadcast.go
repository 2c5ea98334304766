package http

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wxnotify/wxnotify"
)

// BroadcastTimeout bounds reading and answering one POST /v1/broadcasts,
// which may carry a million recipients; it replaces the server's read and
// write timeouts for that route.
const BroadcastTimeout = wxnotify.MaxBroadcastUpload

func (s *Server) registerBroadcastRoutes() {
	s.handle("POST /v1/broadcasts", s.requireAPIKey(s.handleBroadcastCreate))
	s.handle("GET /v1/broadcasts/{id}", s.requireAPIKey(s.handleBroadcastGet))
	s.handle("GET /v1/broadcasts", s.requireAPIKey(s.handleBroadcastList))
}

// handleBroadcastList lists broadcasts, newest first. Query: appid, state,
// before (paging: next_before), limit.
func (s *Server) handleBroadcastList(w http.ResponseWriter, r *http.Request) {
	if s.BroadcastService == nil {
		s.Error(w, r, unavailable("broadcasts"))
		return
	}
	q := r.URL.Query()
	var f wxnotify.BroadcastFilter
	if v := q.Get("appid"); v != "" {
		f.AppID = &v
	}
	if v := q.Get("state"); v != "" {
		st := wxnotify.BroadcastState(v)
		if !st.Valid() {
			s.Error(w, r, wxnotify.FieldErrorf("state", "unknown state %q: want accepting, accepted, aborted or finished", v))
			return
		}
		f.State = &st
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.Error(w, r, wxnotify.FieldErrorf("before", "want a broadcast id"))
			return
		}
		f.BeforeID = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > wxnotify.MaxBroadcastPage {
			s.Error(w, r, wxnotify.FieldErrorf("limit", "want 1 to %d", wxnotify.MaxBroadcastPage))
			return
		}
		f.Limit = n
	}
	list, err := s.BroadcastService.FindBroadcasts(r.Context(), f)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	out := &wxnotify.BroadcastList{Broadcasts: list}
	if out.Broadcasts == nil {
		out.Broadcasts = []*wxnotify.Broadcast{}
	}
	if limit := cmp.Or(f.Limit, wxnotify.DefaultBroadcastPage); len(list) == limit {
		out.NextBefore = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// BroadcastRecipient is one element of "recipients": an openid string, or
// {"openid": "…", "data": {keyword overrides}}.
type BroadcastRecipient wxnotify.BroadcastRecipient

// UnmarshalJSON accepts "openid" and {"openid": …, "data": …}. Its errors
// are *wxnotify.Error with the field relative to the recipient.
func (r *BroadcastRecipient) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*r = BroadcastRecipient{}
		return json.Unmarshal(b, &r.OpenID)
	}
	if len(b) == 0 || b[0] != '{' {
		return wxnotify.FieldErrorf("", "want an openid string or {\"openid\": …, \"data\": {…}}")
	}
	var v struct {
		OpenID string                     `json:"openid"`
		Data   map[string]json.RawMessage `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return jsonFieldError(err, "")
	}
	*r = BroadcastRecipient{OpenID: v.OpenID}
	if len(v.Data) > 0 {
		r.Data = make(map[string]string, len(v.Data))
		for k, raw := range v.Data {
			var d wxnotify.DataValue
			if err := d.UnmarshalJSON(raw); err != nil {
				return wxnotify.FieldErrorf("data."+k, "%v", err)
			}
			r.Data[k] = string(d)
		}
	}
	return nil
}

// handleBroadcastCreate accepts a broadcast, streaming its recipients into
// the service without holding them all. Two body forms:
//
//   - application/json (the default): one object, whose "recipients" array
//     must be its LAST field, after every header field:
//     {"appid": …, "template_id": …, "data": {…}, "recipients": ["o1", {"openid": "o2", "data": {…}}]}
//     Fields after "recipients" are an error (the header is needed before
//     the first recipient is stored).
//   - application/x-ndjson: the header object on the first line, then one
//     recipient per line (a JSON string or object).
//
// The body may be up to wxnotify.MaxBroadcastBodyBytes. 202 once every
// message is stored. A bad recipient answers 400 naming
// "recipients[i]…"; the messages stored before it stay and are sent, and the
// answer's Location header points at the aborted broadcast.
func (s *Server) handleBroadcastCreate(w http.ResponseWriter, r *http.Request) {
	if s.BroadcastService == nil {
		s.Error(w, r, unavailable("broadcasts"))
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(BroadcastTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(BroadcastTimeout))
	body := http.MaxBytesReader(w, r.Body, wxnotify.MaxBroadcastBodyBytes)

	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	ndjson := mt == "application/x-ndjson" || mt == "application/jsonl"
	var req wxnotify.BroadcastRequest
	recipients, err := readBroadcast(body, ndjson, &req)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	b, err := req.Broadcast(time.Now())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	b.IdempotencyKey = r.Header.Get("Idempotency-Key")
	if err := s.BroadcastService.CreateBroadcast(r.Context(), b, recipients); err != nil {
		if b.ID != 0 {
			w.Header().Set("Location", "/v1/broadcasts/"+strconv.FormatInt(b.ID, 10))
		}
		s.Error(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/broadcasts/"+strconv.FormatInt(b.ID, 10))
	// A retry under an Idempotency-Key answers with the first broadcast.
	writeJSON(w, http.StatusAccepted, &wxnotify.BroadcastResponse{ID: b.ID, Accepted: b.Accepted, State: b.State, Created: !b.Retried})
}

// readBroadcast reads the header of a broadcast body into req and returns
// the stream of its recipients, which reads the rest as it is iterated;
// every line or value is read only up to wxnotify.MaxBroadcastLineBytes.
func readBroadcast(body io.Reader, ndjson bool, req *wxnotify.BroadcastRequest) (iter.Seq2[wxnotify.BroadcastRecipient, error], error) {
	if ndjson {
		lines := newLineReader(body, wxnotify.MaxBroadcastLineBytes)
		return ndjsonRecipients(lines), decodeBroadcastHeaderLine(lines, req)
	}
	capped := &valueCap{r: body, max: wxnotify.MaxBroadcastLineBytes}
	dec := json.NewDecoder(capped)
	capped.dec = dec
	return recipientStream(dec), decodeBroadcastHeader(dec, req)
}

// decodeBroadcastHeader reads the JSON object up to the "[" of
// "recipients", decoding the fields before it into req.
func decodeBroadcastHeader(dec *json.Decoder, req *wxnotify.BroadcastRequest) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonFieldError(err, "")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return wxnotify.Errorf(wxnotify.EINVALID, "want a JSON object")
	}
	fields := map[string]json.RawMessage{}
	for {
		if !dec.More() {
			return wxnotify.FieldErrorf("recipients", "recipients required, as the last field of the object")
		}
		if dec.InputOffset() > wxnotify.MaxBroadcastLineBytes {
			return wxnotify.Errorf(wxnotify.EINVALID, "the fields before recipients are longer than %d bytes", wxnotify.MaxBroadcastLineBytes)
		}
		tok, err := dec.Token()
		if err != nil {
			return jsonFieldError(err, "")
		}
		key, _ := tok.(string)
		if key == "recipients" {
			break
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return jsonFieldError(err, key)
		}
		if err := checkJSONText(raw, key); err != nil {
			return err
		}
		fields[key] = raw
	}
	tok, err = dec.Token()
	if err != nil {
		return jsonFieldError(err, "recipients")
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return wxnotify.FieldErrorf("recipients", "want an array")
	}
	// The header is small: decode it with the usual strictness.
	hb, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	hdec := json.NewDecoder(bytes.NewReader(hb))
	hdec.DisallowUnknownFields()
	if err := hdec.Decode(req); err != nil {
		return jsonFieldError(err, "")
	}
	return nil
}

// decodeBroadcastHeaderLine reads the header object of an NDJSON body: its
// first line.
func decodeBroadcastHeaderLine(lines *lineReader, req *wxnotify.BroadcastRequest) error {
	line, err := lines.next()
	if err == io.EOF {
		return wxnotify.Errorf(wxnotify.EINVALID, "empty body: want the header object on the first line")
	} else if err != nil {
		return jsonFieldError(err, "")
	}
	if err := checkJSONText(line, ""); err != nil {
		return err
	}
	hdec := json.NewDecoder(bytes.NewReader(line))
	hdec.DisallowUnknownFields()
	if err := hdec.Decode(req); err != nil {
		if wxnotify.ErrorField(jsonFieldError(err, "")) == "recipients" {
			return wxnotify.FieldErrorf("recipients", "in NDJSON the recipients follow the header, one per line")
		}
		return jsonFieldError(err, "")
	}
	if hdec.More() {
		return wxnotify.Errorf(wxnotify.EINVALID, "line %d: more than one JSON value; NDJSON has one per line", lines.line)
	}
	return nil
}

// ndjsonRecipients yields one recipient per line (blank lines are skipped),
// each line read whole only up to wxnotify.MaxBroadcastLineBytes. Errors
// name the recipient and its line.
func ndjsonRecipients(lines *lineReader) iter.Seq2[wxnotify.BroadcastRecipient, error] {
	return func(yield func(wxnotify.BroadcastRecipient, error) bool) {
		for i := 0; ; i++ {
			field := fmt.Sprintf("recipients[%d]", i)
			line, err := lines.next()
			if err == io.EOF {
				return
			}
			if err == nil {
				err = checkJSONText(line, "")
			}
			var r BroadcastRecipient
			if err == nil {
				err = json.Unmarshal(line, &r)
			}
			if err != nil {
				e := *errorOf(jsonFieldError(err, field))
				if !strings.HasPrefix(e.Message, "line ") {
					e.Message = fmt.Sprintf("line %d: %s", lines.line, e.Message)
				}
				yield(wxnotify.BroadcastRecipient{}, &e)
				return
			}
			if !yield(wxnotify.BroadcastRecipient(r), nil) {
				return
			}
		}
	}
}

// recipientStream yields the recipients as dec reads them: the rest of the
// "recipients" array, then the end of its object. Each element is read raw
// (at most wxnotify.MaxBroadcastLineBytes, by the valueCap under dec), its
// text checked, then decoded.
func recipientStream(dec *json.Decoder) iter.Seq2[wxnotify.BroadcastRecipient, error] {
	return func(yield func(wxnotify.BroadcastRecipient, error) bool) {
		for i := 0; dec.More(); i++ {
			field := fmt.Sprintf("recipients[%d]", i)
			var raw json.RawMessage
			err := dec.Decode(&raw)
			if err == nil {
				err = checkJSONText(raw, "")
			}
			var r BroadcastRecipient
			if err == nil {
				err = json.Unmarshal(raw, &r)
			}
			if err != nil {
				yield(wxnotify.BroadcastRecipient{}, jsonFieldError(err, field))
				return
			}
			if !yield(wxnotify.BroadcastRecipient(r), nil) {
				return
			}
		}
		// "]", then the end of the object, and nothing after it.
		for _, want := range []json.Delim{']', '}'} {
			if want == '}' && dec.More() {
				yield(wxnotify.BroadcastRecipient{}, wxnotify.FieldErrorf("recipients", "must be the last field of the object"))
				return
			}
			tok, err := dec.Token()
			if err != nil {
				yield(wxnotify.BroadcastRecipient{}, jsonFieldError(err, "recipients"))
				return
			}
			if d, ok := tok.(json.Delim); !ok || d != want {
				yield(wxnotify.BroadcastRecipient{}, wxnotify.FieldErrorf("recipients", "malformed JSON: want %q", want))
				return
			}
		}
		if _, err := dec.Token(); err != io.EOF {
			yield(wxnotify.BroadcastRecipient{}, wxnotify.Errorf(wxnotify.EINVALID, "invalid JSON body: more than one value"))
		}
	}
}

// errorOf returns the *wxnotify.Error in err's chain.
func errorOf(err error) *wxnotify.Error {
	var e *wxnotify.Error
	if errors.As(err, &e) {
		return e
	}
	return &wxnotify.Error{Code: wxnotify.EINVALID, Message: err.Error()}
}

// jsonFieldError turns a decoding error into EINVALID, naming the field at
// fault under prefix.
func jsonFieldError(err error, prefix string) error {
	join := func(f string) string {
		switch {
		case prefix == "":
			return f
		case f == "":
			return prefix
		}
		return prefix + "." + f
	}
	var (
		tooBig    *http.MaxBytesError
		tooLong   *tooLongError
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
		we        *wxnotify.Error
	)
	switch {
	case errors.As(err, &tooBig):
		return wxnotify.Errorf(wxnotify.EINVALID, "request body larger than %d bytes", tooBig.Limit)
	case errors.As(err, &tooLong):
		return &wxnotify.Error{Code: wxnotify.EINVALID, Field: prefix, Message: tooLong.Error()}
	case errors.As(err, &we):
		out := *we
		out.Code, out.Field = wxnotify.EINVALID, join(we.Field)
		return &out
	case errors.As(err, &typeErr):
		return wxnotify.FieldErrorf(join(typeErr.Field), "wrong type: want %s", typeErr.Type)
	case errors.As(err, &syntaxErr):
		return &wxnotify.Error{Code: wxnotify.EINVALID, Field: prefix, Message: fmt.Sprintf("malformed JSON: %v", syntaxErr)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &wxnotify.Error{Code: wxnotify.EINVALID, Field: prefix, Message: "the body ended early"}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return wxnotify.FieldErrorf(join(strings.Trim(name, `"`)), "unknown field")
	}
	return &wxnotify.Error{Code: wxnotify.EINVALID, Field: prefix, Message: fmt.Sprintf("invalid JSON: %v", err)}
}

func (s *Server) handleBroadcastGet(w http.ResponseWriter, r *http.Request) {
	if s.BroadcastService == nil {
		s.Error(w, r, unavailable("broadcasts"))
		return
	}
	id, err := pathInt64(r, "broadcast")
	if err != nil {
		s.Error(w, r, err)
		return
	}
	b, err := s.BroadcastService.FindBroadcastByID(r.Context(), id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func pathInt64(r *http.Request, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, wxnotify.FieldErrorf("id", "want a %s id", what)
	}
	return id, nil
}

func unavailable(what string) error {
	return wxnotify.Errorf(wxnotify.EUNAVAILABLE, "%s not configured on this server", what)
}
