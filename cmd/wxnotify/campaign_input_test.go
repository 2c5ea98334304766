package main_test

// The malformed-input campaign: every route of the real binary, with valid
// credentials, given NUL bytes, lone surrogates, invalid UTF-8, C0 controls,
// oversized, deeply nested and binary bodies, and bad path and query values.

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	wxhttp "github.com/wxnotify/wxnotify/http"
)

// badString is one way to spoil a JSON string value: raw bytes written
// into the string as they are (so the text may not be valid JSON or UTF-8).
type badString struct {
	name string
	raw  string
}

var badStrings = []badString{
	{"NUL (escaped)", `x\u0000y`},
	{"NUL (raw byte)", "x\x00y"},
	{"C0 control (escaped)", `x\u001by`},
	{"lone surrogate", `x\ud800y`},
	{"lone low surrogate", `x\udc00y`},
	{"invalid UTF-8", "x\xff\xfey"},
	{"overlong UTF-8", "x\xc0\xafy"},
	{"UTF-8 surrogate", "x\xed\xa0\x80y"},
}

// xmlBadStrings spoil an XML text value through character references.
var xmlBadStrings = []badString{
	{"NUL (character reference)", "x&#0;y"},
	{"C0 control (character reference)", "x&#27;y"},
	{"surrogate (character reference)", "x&#xD800;y"},
}

// sweepBodies are the JSON bodies, by route, whose every string value the
// campaign spoils in turn; the values are valid, so that each refusal is
// for the spoiled one. Routes not listed get the whole-body payloads only.
func sweepBodies(tpl string) map[string]any {
	msg := map[string]any{"openid": "oUSER0000000000001", "template_id": tpl, "data": map[string]any{"thing1": "x"}}
	return map[string]any{
		"POST /v1/messages": map[string]any{"appid": demoApp, "openid": "oUSER0000000000001", "template_id": tpl,
			"data": map[string]any{"thing1": "x"}, "page": "pages/index"},
		// recipients must come last: an ordered object.
		"POST /v1/broadcasts": &orderedObject{keys: []string{"appid", "template_id", "data", "recipients"}, m: map[string]any{
			"appid": demoApp, "template_id": tpl, "data": map[string]any{"thing1": "x"},
			"recipients": []any{"oUSER0000000000001", map[string]any{"openid": "oUSER0000000000002", "data": map[string]any{"thing1": "y"}}}}},
		"POST /v1/schedules":                            map[string]any{"appid": demoApp, "name": "daily", "cron": "0 9 * * *", "message": msg},
		"POST /v1/webhooks":                             map[string]any{"appid": demoApp, "url": "https://hooks.example.com/wx"},
		"POST /v1/apps/{appid}/credits":                 map[string]any{"openid": "oUSER0000000000001", "kind": "prepay_id", "values": []any{"wx2017033010242291fcfe0db70013231072"}},
		"POST /v1/apps/{appid}/templates":               map[string]any{"tid": "1001", "kid_list": []any{1, 2}, "scene_desc": "x"},
		"PUT /v1/apps/{appid}/templates/{id}/truncate":  map[string]any{"keys": []any{"thing1"}},
		"PUT /v1/apps/{appid}/template_aliases/{alias}": map[string]any{"template_id": tpl},
		"POST /mp/v1/apps/{appid}/login":                map[string]any{"code": "0a1b2c3d4e5f"},
		"POST /mp/v1/apps/{appid}/form_ids":             map[string]any{"form_ids": []any{"1234567890abcdef1234567890abcdef"}},
		"POST /mp/v1/apps/{appid}/subscriptions":        map[string]any{tpl: "accept", "errMsg": "requestSubscribeMessage:ok"},
		"POST /dashboard/login":                         map[string]any{"password": "x"},
	}
}

// knownHygieneGaps are the spoiled values this campaign found accepted,
// route and field, with the kinds accepted (docs/campaigns.md, finding 4),
// reported and not yet fixed: the campaign logs them instead of failing,
// and fails on any other. Remove an entry once its route refuses it.
var knownHygieneGaps = map[string]string{}

// orderedObject is a JSON object whose keys keep their order.
type orderedObject struct {
	keys []string
	m    map[string]any
}

func (o *orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(o.m[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// bodyIgnored lists the routes that read no body: whatever is sent, they
// may answer 2xx. The routes of sweepBodies (and the push callback) read
// one and must refuse one that is not what they want. A route in neither
// (new, or still being written) is swept all the same and named in the
// log; add it to one of the two.
var bodyIgnored = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /metrics": true, "GET /openapi.json": true, "/": true,
	"GET /dashboard": true, "GET /dashboard/": true, "POST /dashboard/logout": true,
	"GET /wechat/callback/{appid}": true, "GET /mp/v1/apps/{appid}/credits": true,
	"GET /dashboard/api/": true, "GET /dashboard/api/session": true, "GET /dashboard/api/apps": true,
	"GET /dashboard/api/queue": true, "GET /dashboard/api/credits": true, "GET /dashboard/api/messages": true,
	"GET /dashboard/api/messages/{id}": true, "GET /dashboard/api/broadcasts": true, "GET /dashboard/api/timeseries": true,
	"GET /v1/apps/{appid}/access_token": true, "POST /v1/apps/{appid}/access_token/invalidate": true,
	"GET /v1/apps/{appid}/token_status": true, "GET /v1/messages": true, "GET /v1/messages/{id}": true,
	"POST /v1/messages/{id}/cancel": true, "GET /v1/broadcasts/{id}": true, "GET /v1/schedules": true,
	"GET /v1/schedules/{id}": true, "POST /v1/schedules/{id}/pause": true, "POST /v1/schedules/{id}/resume": true,
	"DELETE /v1/schedules/{id}": true, "GET /v1/webhooks": true, "GET /v1/jobs": true, "DELETE /v1/webhooks/{id}": true,
	"GET /v1/apps/{appid}/credits/stats": true, "GET /v1/apps/{appid}/templates": true,
	"POST /v1/apps/{appid}/templates/sync": true, "GET /v1/apps/{appid}/templates/{id}": true,
	"DELETE /v1/apps/{appid}/templates/{id}": true, "DELETE /v1/apps/{appid}/template_aliases/{alias}": true,
	"GET /v1/apps/{appid}/template_library": true, "GET /v1/apps/{appid}/template_library/categories": true,
	"GET /v1/apps/{appid}/template_library/{tid}": true,
	"POST /v1/messages/{id}/retry":                true,
}

// spoil returns the JSON text of v once per string value (map values and
// array elements, depth first), that value replaced by bad, with the name
// of the field it was in.
func spoil(v any, bad string) (bodies [][]byte, fields []string) {
	const mark = "\x01SPOILED\x01"
	var leaves func(v any, field string, set func(any)) // calls visit for each string leaf
	var visit func(field string, set func(any), restore func())
	root := v
	leaves = func(v any, field string, set func(any)) {
		switch x := v.(type) {
		case string:
			visit(field, set, func() { set(x) })
		case *orderedObject:
			for _, k := range x.keys {
				leaves(x.m[k], k, func(nv any) { x.m[k] = nv })
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				leaves(x[k], k, func(nv any) { x[k] = nv })
			}
		case []any:
			for i := range x {
				leaves(x[i], field, func(nv any) { x[i] = nv })
			}
		}
	}
	visit = func(field string, set func(any), restore func()) {
		set(mark)
		b, _ := json.Marshal(root)
		restore()
		bodies = append(bodies, bytes.Replace(b, []byte(`"`+strings.ReplaceAll(mark, "\x01", `\u0001`)+`"`), []byte(`"`+bad+`"`), 1))
		fields = append(fields, field)
	}
	leaves(root, "", nil)
	return bodies, fields
}

// repeatReader yields prefix, then n bytes of fill, then suffix, without
// holding them: an upload of any size for the price of its buffers.
type repeatReader struct {
	prefix, suffix []byte
	fill           byte
	n              int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if len(r.prefix) > 0 {
		k := copy(p, r.prefix)
		r.prefix = r.prefix[k:]
		return k, nil
	}
	if r.n > 0 {
		k := int(min(int64(len(p)), r.n))
		for i := range k {
			p[i] = r.fill
		}
		r.n -= int64(k)
		return k, nil
	}
	if len(r.suffix) > 0 {
		k := copy(p, r.suffix)
		r.suffix = r.suffix[k:]
		return k, nil
	}
	return 0, io.EOF
}

// sweepResult is one request of the sweep and its answer.
type sweepResult struct {
	route, what, field string
	status             int
	err                wxnotify.ErrorBody
	decodeErr          error
	netErr             error
}

// TestCampaign_MalformedInput sends every route of `wxnotify serve` (the
// list is http.Server.Routes, so a new route is swept too), with the
// credential it needs: bodies with each string value spoiled in turn (NUL,
// C0 control, lone surrogates, invalid and overlong UTF-8), whole bodies
// that are binary, deeply nested (100,000 levels), truncated, of the wrong
// type or oversized (8 MB), and path and query values with the same bytes;
// then broadcasts with one 150 MB line, three at once, in both body forms.
// It fails on any 5xx or dropped connection, a panic in the log, a 4xx
// that is not a JSON error with a message, a body-reading route answering
// 2xx to a body that is not what it wants, a spoiled value accepted or
// refused without naming its field, or a peak RSS of 200 MB or more.
func TestCampaign_MalformedInput(t *testing.T) {
	t.Parallel()
	start := time.Now()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "wx.db")
	e, sim, key, tpl := campaignSetup(t, dsn, 100)
	const password = "sweep-operator-passphrase-0123"
	const pushToken = "sweepPushToken0123"
	e.vars = append(e.vars, "WXNOTIFY_ADMIN_PASSWORD="+password, "WXNOTIFY_CALLBACK_TOKEN="+pushToken)
	e.mustRun("", "app", "callback", demoApp)
	ops := strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "ops", "--app", "*"))
	_ = key
	serve := e.start("serve", "--addr", "127.0.0.1:0")
	pid := serve.cmd.Process.Pid

	// The credentials: an operator key, a mini-program session, a
	// dashboard session cookie, a push signature.
	code := simCtl(t, sim.url, "/login_codes", map[string]string{"appid": demoApp, "openid": "oUSER0000000000001"})["code"].(string)
	var login struct {
		SessionToken string `json:"session_token"`
	}
	if status := getJSON(t, "POST", serve.url+"/mp/v1/apps/"+demoApp+"/login", "", fmt.Sprintf(`{"code":%q}`, code), &login); status != 200 {
		t.Fatalf("mini-program login: %d", status)
	}
	// A transport of its own: the sweep's requests break the OpenAPI
	// document on purpose, so they bypass the contract check that
	// TestMain puts on http.DefaultTransport.
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: time.Minute, Transport: tr}
	lreq, _ := http.NewRequest("POST", serve.url+"/dashboard/login", strings.NewReader(fmt.Sprintf(`{"password":%q}`, password)))
	lreq.Header.Set("Content-Type", "application/json")
	lreq.Header.Set(wxhttp.DashboardCSRFHeader, "1")
	resp, err := hc.Do(lreq)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("dashboard login: %d", resp.StatusCode)
	}
	noJar := &http.Client{Timeout: time.Minute, Transport: tr}
	signed := func() string {
		ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), strconv.Itoa(rand.IntN(1e9))
		parts := []string{pushToken, ts, nonce}
		slices.Sort(parts)
		sum := sha1.Sum([]byte(strings.Join(parts, "")))
		return "?timestamp=" + ts + "&nonce=" + nonce + "&signature=" + hex.EncodeToString(sum[:]) + "&echostr=e"
	}

	var mu sync.Mutex
	var results []sweepResult
	// do sends one request to route (pattern) with path (filled), and
	// records the answer.
	do := func(route, path, what, field, contentType string, body io.Reader) sweepResult {
		method, _, _ := strings.Cut(route, " ")
		if !strings.Contains(route, " ") {
			method = "POST"
		}
		c := noJar
		res := sweepResult{route: route, what: what, field: field}
		req, err := http.NewRequest(method, serve.url+path, body)
		if err != nil {
			t.Errorf("%s %s: %v", route, what, err)
			return res
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set(wxhttp.DashboardCSRFHeader, "1") // the dashboard's CSRF header: past it to the parsers
		switch {
		case strings.HasPrefix(path, "/v1/"):
			req.Header.Set("Authorization", "Bearer "+ops)
		case strings.HasPrefix(path, "/mp/") && !strings.HasSuffix(path, "/login"):
			req.Header.Set("Authorization", "Bearer "+login.SessionToken)
		case strings.HasPrefix(path, "/dashboard/api"):
			c = hc
		case strings.HasPrefix(path, "/wechat/callback/"):
			if strings.Contains(path, "?") {
				req.URL.RawQuery += "&" + strings.TrimPrefix(signed(), "?")
			} else {
				req.URL.RawQuery = strings.TrimPrefix(signed(), "?")
			}
		}
		resp, err := c.Do(req)
		if err != nil {
			res.netErr = err
		} else {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			res.status = resp.StatusCode
			if res.status >= 400 {
				var er wxnotify.ErrorResponse
				if res.decodeErr = json.Unmarshal(b, &er); res.decodeErr == nil {
					res.err = er.Error
				}
			}
		}
		mu.Lock()
		results = append(results, res)
		mu.Unlock()
		return res
	}
	// gapAccepted notes a spoiled value answered 2xx: a known gap is
	// counted, any other fails the campaign.
	var knownAccepted int
	gapAccepted := func(route, field, kind string, status int) {
		if _, known := knownHygieneGaps[route+" "+field]; known {
			knownAccepted++
			t.Logf("known gap: %s: %s in %q accepted (%d)", route, kind, field, status)
			return
		}
		t.Errorf("%s: %s in %q accepted (%d)", route, kind, field, status)
	}
	fill := strings.NewReplacer("{appid}", demoApp, "{id}", "1", "{alias}", "alias1", "{tid}", "1001")

	// Whole bodies.
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(rand.IntN(256))
	}
	wholeBodies := []struct {
		what string
		body func() io.Reader
	}{
		{"binary body", func() io.Reader { return bytes.NewReader(random) }},
		{"nested objects (100,000 deep)", func() io.Reader {
			return io.MultiReader(strings.NewReader(strings.Repeat(`{"a":`, 100000)+"1"), strings.NewReader(strings.Repeat("}", 100000)))
		}},
		{"nested arrays (100,000 deep)", func() io.Reader {
			return strings.NewReader(strings.Repeat("[", 100000) + strings.Repeat("]", 100000))
		}},
		{"truncated JSON", func() io.Reader { return strings.NewReader(`{"appid":"` + demoApp) }},
		{"wrong type", func() io.Reader { return strings.NewReader(`[1,2,3]`) }},
		{"NUL bytes", func() io.Reader { return bytes.NewReader(make([]byte, 4096)) }},
		{"8 MB string value", func() io.Reader {
			return &repeatReader{prefix: []byte(`{"appid":"`), fill: 'a', n: 8 << 20, suffix: []byte(`"}`)}
		}},
		{"8 MB of one line", func() io.Reader { return &repeatReader{fill: '7', n: 8 << 20} }},
	}
	routes := wxhttp.NewServer().Routes()
	bases := sweepBodies(tpl)
	const callback = "POST /wechat/callback/{appid}"
	var unclassified []string
	for _, route := range routes {
		readsBody := bases[route] != nil || route == callback
		if !readsBody && !bodyIgnored[route] {
			unclassified = append(unclassified, route)
		}
		_, pattern, ok := strings.Cut(route, " ")
		if !ok {
			pattern = "/nowhere"
		}
		path := fill.Replace(pattern)
		for _, wb := range wholeBodies {
			res := do(route, path, wb.what, "", "application/json", wb.body())
			if res.status/100 == 2 && readsBody {
				t.Errorf("%s: %s answered %d, want a refusal", route, wb.what, res.status)
			}
		}
		if route == "POST /v1/broadcasts" {
			for _, wb := range wholeBodies {
				do(route+" (NDJSON)", path, wb.what, "", "application/x-ndjson", wb.body())
			}
		}
		// Spoiled string values.
		if base := bases[route]; base != nil {
			for _, bad := range badStrings {
				bodies, fields := spoil(base, bad.raw)
				for i, body := range bodies {
					res := do(route, path, bad.name, fields[i], "application/json", bytes.NewReader(body))
					if route == "POST /dashboard/login" && res.status == 429 {
						continue // the flood limit, rightly
					}
					if res.status/100 == 2 {
						gapAccepted(route, fields[i], bad.name, res.status)
					}
				}
				if route == "POST /v1/broadcasts" {
					// NDJSON: the header line, then recipient lines.
					hdr, _ := json.Marshal(map[string]any{"appid": demoApp, "template_id": tpl, "data": map[string]any{"thing1": "x"}})
					lines := [][]byte{hdr, []byte(`"oUSER0000000000001"`), []byte(`{"openid":"oUSER0000000000002","data":{"thing1":"y"}}`)}
					for li := range lines {
						for _, spoiledLine := range [][]byte{bytes.Replace(lines[li], []byte(`"x"`), []byte(`"`+bad.raw+`"`), 1),
							bytes.Replace(lines[li], []byte(`oUSER`), []byte(bad.raw), 1)} {
							if bytes.Equal(spoiledLine, lines[li]) {
								continue
							}
							body := bytes.Join(slices.Concat(lines[:li], [][]byte{spoiledLine}, lines[li+1:]), []byte("\n"))
							field := map[int]string{0: "data", 1: "recipients", 2: "recipients"}[li]
							if res := do(route+" (NDJSON)", path, bad.name, field, "application/x-ndjson", bytes.NewReader(body)); res.status/100 == 2 {
								t.Errorf("%s (NDJSON): %s on line %d accepted (%d)", route, bad.name, li+1, res.status)
							}
						}
					}
				}
			}
		}
		if route == callback {
			// XML has no \u escapes: its character references instead.
			for _, bad := range slices.Concat(xmlBadStrings, slices.DeleteFunc(slices.Clone(badStrings), func(b badString) bool { return strings.Contains(b.raw, `\u`) })) {
				xml := "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName>o" + bad.raw +
					"</FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>" +
					"<Event><![CDATA[subscribe_msg_sent_event]]></Event><SubscribeMsgSentEvent><List><TemplateId><![CDATA[" + tpl +
					"]]></TemplateId><MsgID>1</MsgID><ErrorCode>0</ErrorCode><ErrorStatus><![CDATA[success]]></ErrorStatus></List></SubscribeMsgSentEvent></xml>"
				if res := do(route, path, bad.name, "FromUserName", "text/xml", strings.NewReader(xml)); res.status/100 == 2 {
					gapAccepted(route, "FromUserName", bad.name, res.status)
				}
			}
		}
		// Path and query values.
		for _, v := range []string{"%00", "%ED%A0%80", "%FF%FE", "%1B", strings.Repeat("a", 10000)} {
			if strings.Contains(pattern, "{") {
				p := strings.NewReplacer("{appid}", v, "{id}", v, "{alias}", v, "{tid}", v).Replace(pattern)
				do(route, p, "path value "+v[:min(len(v), 10)], "", "", nil)
			}
			if strings.HasPrefix(route, "GET ") {
				q := "?appid=" + v + "&openid=" + v + "&state=" + v + "&before=" + v + "&limit=" + v + "&template_id=" + v + "&since=" + v
				do(route, path+q, "query value "+v[:min(len(v), 10)], "", "", nil)
			}
		}
		if res := do("GET /healthz", "/healthz", "alive after "+route, "", "", nil); res.status != 200 {
			t.Fatalf("serve is gone after %s (%v %d):\n%s", route, res.netErr, res.status, tail(serve.Stderr(), 4000))
		}
	}
	beforeBig := vmHWM(t, pid)

	// Oversized broadcast lines: three at once, each one line of 150 MB,
	// in both body forms; each refused as the cap passes.
	var wg sync.WaitGroup
	for i := range 3 {
		for _, ndjson := range []bool{false, true} {
			wg.Go(func() {
				hdr := fmt.Sprintf(`{"appid":%q,"template_id":%q,"data":{"thing1":"x"},"recipients":["`, demoApp, tpl)
				ct, suffix := "application/json", `"]}`
				if ndjson {
					hdr, ct, suffix = fmt.Sprintf(`{"appid":%q,"template_id":%q,"data":{"thing1":"x"}}`+"\n\"", demoApp, tpl), "application/x-ndjson", "\"\n"
				}
				do("POST /v1/broadcasts (150 MB line)", "/v1/broadcasts", fmt.Sprintf("150 MB line %d ndjson=%v", i, ndjson), "recipients", ct,
					&repeatReader{prefix: []byte(hdr), fill: 'o', n: 150 << 20, suffix: []byte(suffix)})
			})
		}
	}
	wg.Wait()
	if res := do("GET /healthz", "/healthz", "alive after the 150 MB lines", "", "", nil); res.status != 200 {
		t.Fatalf("serve is gone after the 150 MB lines (%v %d):\n%s", res.netErr, res.status, tail(serve.Stderr(), 4000))
	}
	peak := vmHWM(t, pid)

	// The accounting.
	var crashes, notJSON, unnamed, refused, accepted, named int
	byStatus := map[int]int{}
	var big []string
	for _, r := range results {
		byStatus[r.status]++
		if strings.Contains(r.route, "150 MB") {
			big = append(big, fmt.Sprintf("%d %q %v", r.status, r.err.Message, r.netErr))
		}
		switch {
		case r.netErr != nil && strings.Contains(r.route, "150 MB"):
			// The server may close the connection as soon as it has
			// answered, while the client is still sending: then the
			// client sees the write fail, not the 4xx. Not a crash if
			// serve is alive (checked above).
			refused++
		case r.netErr != nil, r.status >= 500:
			crashes++
			t.Errorf("%s, %s: %d %v %+v", r.route, r.what, r.status, r.netErr, r.err)
		case r.status >= 400:
			refused++
			if r.decodeErr != nil || r.err.Message == "" || r.err.Code == "" || r.err.Message == "Internal error." {
				notJSON++
				t.Errorf("%s, %s: %d without a JSON error naming the problem: %+v %v", r.route, r.what, r.status, r.err, r.decodeErr)
				continue
			}
			if r.field != "" && r.status == 400 {
				// A spoiled value that makes the body unparseable (a raw
				// NUL in JSON, any bad byte in XML) is named by where the
				// parser stopped.
				malformed := strings.Contains(r.err.Message, "malformed")
				if r.err.Field == r.field || strings.Contains(r.err.Field, r.field) || strings.Contains(r.err.Message, r.field) || malformed {
					named++
				} else {
					unnamed++
					t.Logf("%s, %s in %q: 400 without naming it: field %q, %q", r.route, r.what, r.field, r.err.Field, r.err.Message)
				}
			}
		default:
			accepted++
		}
	}
	t.Logf("%d requests over %d routes: %d refused (4xx), %d answered 2xx/3xx (routes that read no body, or path/query values they ignore); statuses %v",
		len(results), len(routes), refused, accepted, byStatus)
	t.Logf("spoiled values refused with 400: %d naming the field, %d not", named, unnamed)
	t.Logf("serve peak RSS (VmHWM): %s after the sweep, %s after 6 concurrent 150 MB lines", mib(beforeBig), mib(peak))
	t.Logf("the 150 MB lines: %v", big)
	if len(unclassified) > 0 {
		// Swept like the others (no 5xx, JSON errors), but a 2xx to a
		// bad body is not held against them until they are classified.
		t.Logf("routes not classified in sweepBodies or bodyIgnored: %v", unclassified)
	}
	t.Logf("spoiled values accepted by the known gaps (knownHygieneGaps): %d", knownAccepted)
	fmt.Printf("CAMPAIGN TestCampaign_MalformedInput requests=%d crashes=%d refusals_without_json=%d unnamed=%d known_gaps_accepted=%d peak_rss=%s took=%v\n",
		len(results), crashes, notJSON, unnamed, knownAccepted, mib(peak), time.Since(start).Round(time.Second))
	if peak >= campaignRSSLimit {
		t.Errorf("serve's peak RSS %s, want below %s", mib(peak), mib(campaignRSSLimit))
	}
	if unnamed > 0 {
		t.Errorf("%d spoiled values refused without naming their field", unnamed)
	}
	checkServeLogs(t, serve)
}
