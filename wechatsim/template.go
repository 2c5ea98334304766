package wechatsim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Keyword is one keyword of a template added with AddTemplateDirect.
type Keyword struct {
	// Key is the data key, rule name plus a number: "thing1", "time2", "character_string3".
	Key string `json:"key"`
	// Name is the label shown to the user, e.g. "订单号".
	Name string `json:"name"`
	// Example is an example value (optional).
	Example string `json:"example,omitempty"`
}

// template is a template in an app's private library (subscribe) or its legacy list.
type template struct {
	ID        string
	Title     string
	Tid       int
	Type      int // 2 one-time subscription, 3 long-term
	Keywords  []Keyword
	rules     map[string]string // data key -> rule
	SceneDesc string
	legacy    bool
}

func (t *template) content() string {
	var b strings.Builder
	for _, k := range t.Keywords {
		fmt.Fprintf(&b, "%s:{{%s.DATA}}\n", k.Name, k.Key)
	}
	return b.String()
}

func (t *template) example() string {
	var b strings.Builder
	for _, k := range t.Keywords {
		fmt.Fprintf(&b, "%s:%s\n", k.Name, k.Example)
	}
	return b.String()
}

func newTemplate(id, title string, kws []Keyword) *template {
	t := &template{ID: id, Title: title, Type: 2, Keywords: kws, rules: map[string]string{}}
	for _, k := range kws {
		t.rules[k.Key] = RuleOf(k.Key)
	}
	return t
}

// AddTemplateDirect puts a subscribe template straight into appid's private library, as if
// added with addtemplate, and returns its priTmplId. It ignores MaxPrivateTemplates. It returns
// "" when appid is unknown.
func (s *Server) AddTemplateDirect(appid, title string, keywords ...Keyword) string {
	a := s.app(appid)
	if a == nil {
		return ""
	}
	t := newTemplate(randomID(32), title, slices.Clone(keywords))
	a.putTemplate(t)
	return t.ID
}

// AddLongTermTemplateDirect is AddTemplateDirect for a long-term subscription template
// (type 3): one acceptance (GrantSubscribe) allows every later send until the user turns it
// off (RevokeSubscribe).
func (s *Server) AddLongTermTemplateDirect(appid, title string, keywords ...Keyword) string {
	a := s.app(appid)
	if a == nil {
		return ""
	}
	t := newTemplate(randomID(32), title, slices.Clone(keywords))
	t.Type = 3
	a.putTemplate(t)
	return t.ID
}

// AddLegacyTemplateDirect puts a legacy template message template into appid's list and
// returns its template_id; its data keys are keyword1..keywordN in the order of names.
// It returns "" when appid is unknown.
func (s *Server) AddLegacyTemplateDirect(appid, title string, names ...string) string {
	a := s.app(appid)
	if a == nil {
		return ""
	}
	kws := make([]Keyword, len(names))
	for i, n := range names {
		kws[i] = Keyword{Key: "keyword" + strconv.Itoa(i+1), Name: n}
	}
	t := newTemplate(randomID(32), title, kws)
	t.legacy = true
	a.putTemplate(t)
	return t.ID
}

// putTemplate publishes t copy-on-write so sends read templates without a lock.
func (a *app) putTemplate(t *template) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := &a.templates
	if t.legacy {
		p = &a.legacy
	}
	m := maps.Clone(*p.Load())
	m[t.ID] = t
	p.Store(&m)
}

func (a *app) delTemplate(id string, legacy bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := &a.templates
	if legacy {
		p = &a.legacy
	}
	if _, ok := (*p.Load())[id]; !ok {
		return false
	}
	m := maps.Clone(*p.Load())
	delete(m, id)
	p.Store(&m)
	return true
}

func sortedTemplates(m map[string]*template) []*template {
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, func(x, y *template) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// decodeBody decodes a JSON body, or a form body (application/x-www-form-urlencoded) into
// form; it reports whether the body parsed.
func decodeBody(r *http.Request, body []byte, v any) (url.Values, bool) {
	ct := r.Header.Get("Content-Type")
	trim := strings.TrimSpace(string(body))
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") || trim != "" && trim[0] != '{' {
		f, err := url.ParseQuery(trim)
		return f, err == nil
	}
	if trim == "" {
		return nil, false
	}
	return nil, json.Unmarshal(body, v) == nil
}

// handleGetCategory serves GET /wxaapi/newtmpl/getcategory: {"data":[{"id","name"}]}.
func (s *Server) handleGetCategory(w http.ResponseWriter, r *http.Request, a *app) {
	type cat struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	resp := struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
		Data    []cat  `json:"data"`
	}{ErrMsg: "ok"}
	for _, c := range s.lib.categories {
		resp.Data = append(resp.Data, cat{c.ID, c.Name})
	}
	writeJSON(w, resp)
}

// handleGetPubTitles serves GET /wxaapi/newtmpl/getpubtemplatetitles?ids=&start=&limit=.
// ids is a comma-separated list of category ids (quotes tolerated). Errors: 200018 ids
// missing, 200019 ids malformed, 200016 start not a number >= 0, 200017 limit not in 1..30.
// Answers count (all matches) and data [{tid,title,type,categoryId}] from start.
func (s *Server) handleGetPubTitles(w http.ResponseWriter, r *http.Request, a *app) {
	q := r.URL.Query()
	idsParam := strings.Trim(q.Get("ids"), `"`)
	if idsParam == "" {
		writeErr(w, ctJSON, 200018, "")
		return
	}
	want := map[int]bool{}
	for _, f := range strings.Split(idsParam, ",") {
		id, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			writeErr(w, ctJSON, 200019, "")
			return
		}
		want[id] = true
	}
	start, err := strconv.Atoi(q.Get("start"))
	if err != nil || start < 0 {
		writeErr(w, ctJSON, 200016, "")
		return
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit < 1 || limit > 30 {
		writeErr(w, ctJSON, 200017, "")
		return
	}
	type title struct {
		Tid        int    `json:"tid"`
		Title      string `json:"title"`
		Type       int    `json:"type"`
		CategoryID string `json:"categoryId"`
	}
	var all []title
	for _, t := range s.lib.titles {
		if want[t.CategoryID] {
			all = append(all, title{t.Tid, t.Title, t.Type, strconv.Itoa(t.CategoryID)})
		}
	}
	resp := struct {
		ErrCode int     `json:"errcode"`
		ErrMsg  string  `json:"errmsg"`
		Count   int     `json:"count"`
		Data    []title `json:"data"`
	}{ErrMsg: "ok", Count: len(all), Data: []title{}}
	if start < len(all) {
		resp.Data = all[start:min(len(all), start+limit)]
	}
	writeJSON(w, resp)
}

// handleGetPubKeywords serves GET /wxaapi/newtmpl/getpubtemplatekeywords?tid=: count and data
// [{kid,name,example,rule}]. Unknown tid: 200014.
func (s *Server) handleGetPubKeywords(w http.ResponseWriter, r *http.Request, a *app) {
	tid, _ := strconv.Atoi(r.URL.Query().Get("tid"))
	t := s.lib.title(tid)
	if t == nil {
		writeErr(w, ctJSON, 200014, "")
		return
	}
	resp := struct {
		ErrCode int          `json:"errcode"`
		ErrMsg  string       `json:"errmsg"`
		Count   int          `json:"count"`
		Data    []pubKeyword `json:"data"`
	}{ErrMsg: "ok", Count: len(t.Keywords), Data: t.Keywords}
	writeJSON(w, resp)
}

// handleAddTemplate serves POST /wxaapi/newtmpl/addtemplate with {tid, kidList, sceneDesc},
// as JSON or as a form (tid=401&kidList=1&kidList=2, or kidList[0]=1 style). Errors: 47001
// unparsable body, 200014 unknown tid, 200020 kidList not 2..5 distinct known kids, 200021
// sceneDesc over 15 characters, 200012 the app already has MaxPrivateTemplates templates.
// The template's data keys are rule+kid ("thing1", "amount2"), in kidList order. Answers
// priTmplId.
func (s *Server) handleAddTemplate(w http.ResponseWriter, r *http.Request, a *app, body []byte) {
	var req struct {
		Tid       json.RawMessage `json:"tid"`
		KidList   []int           `json:"kidList"`
		SceneDesc string          `json:"sceneDesc"`
	}
	form, ok := decodeBody(r, body, &req)
	if !ok {
		writeErr(w, ctJSON, 47001, "")
		return
	}
	tidStr := strings.Trim(string(req.Tid), `"`)
	if form != nil {
		tidStr = form.Get("tid")
		req.SceneDesc = form.Get("sceneDesc")
		req.KidList = nil
		keys := slices.Sorted(maps.Keys(form))
		for _, k := range keys {
			if k != "kidList" && !strings.HasPrefix(k, "kidList[") {
				continue
			}
			for _, v := range form[k] {
				n, err := strconv.Atoi(v)
				if err != nil {
					writeErr(w, ctJSON, 200020, "")
					return
				}
				req.KidList = append(req.KidList, n)
			}
		}
	}
	tid, _ := strconv.Atoi(tidStr)
	pt := s.lib.title(tid)
	if pt == nil {
		writeErr(w, ctJSON, 200014, "")
		return
	}
	if len(req.KidList) < 2 || len(req.KidList) > 5 {
		writeErr(w, ctJSON, 200020, "")
		return
	}
	seen := map[int]bool{}
	var kws []Keyword
	for _, kid := range req.KidList {
		k := pt.keyword(kid)
		if k == nil || seen[kid] {
			writeErr(w, ctJSON, 200020, "")
			return
		}
		seen[kid] = true
		kws = append(kws, Keyword{Key: k.Rule + strconv.Itoa(k.Kid), Name: k.Name, Example: k.Example})
	}
	if utf8.RuneCountInString(req.SceneDesc) > 15 {
		writeErr(w, ctJSON, 200021, "")
		return
	}
	if len(*a.templates.Load()) >= MaxPrivateTemplates {
		writeErr(w, ctJSON, 200012, "")
		return
	}
	t := newTemplate(randomID(32), pt.Title, kws)
	t.Tid, t.Type, t.SceneDesc = pt.Tid, pt.Type, req.SceneDesc
	a.putTemplate(t)
	writeJSON(w, struct {
		ErrCode   int    `json:"errcode"`
		ErrMsg    string `json:"errmsg"`
		PriTmplID string `json:"priTmplId"`
	}{0, "ok", t.ID})
}

// handleDelTemplate serves POST /wxaapi/newtmpl/deltemplate with {priTmplId} (JSON or form).
// Unknown priTmplId: 40037. Sends to a deleted template answer 40037.
func (s *Server) handleDelTemplate(w http.ResponseWriter, r *http.Request, a *app, body []byte) {
	var req struct {
		PriTmplID string `json:"priTmplId"`
	}
	form, ok := decodeBody(r, body, &req)
	if !ok {
		writeErr(w, ctJSON, 47001, "")
		return
	}
	if form != nil {
		req.PriTmplID = form.Get("priTmplId")
	}
	if !a.delTemplate(req.PriTmplID, false) {
		writeErr(w, ctJSON, 40037, "")
		return
	}
	writeRaw(w, ctJSON, okBody)
}

// handleGetTemplate serves GET /wxaapi/newtmpl/gettemplate: data [{priTmplId, title, content,
// example, type}] where content is "name:{{key.DATA}}\n" per keyword.
func (s *Server) handleGetTemplate(w http.ResponseWriter, r *http.Request, a *app) {
	type item struct {
		PriTmplID string `json:"priTmplId"`
		Title     string `json:"title"`
		Content   string `json:"content"`
		Example   string `json:"example"`
		Type      int    `json:"type"`
	}
	resp := struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
		Data    []item `json:"data"`
	}{ErrMsg: "ok", Data: []item{}}
	for _, t := range sortedTemplates(*a.templates.Load()) {
		resp.Data = append(resp.Data, item{t.ID, t.Title, t.content(), t.example(), t.Type})
	}
	writeJSON(w, resp)
}

// offsetCount decodes the legacy {offset, count} paging body; count must be 1..20 (47003).
func offsetCount(w http.ResponseWriter, body []byte) (int, int, bool) {
	var req struct {
		Offset int `json:"offset"`
		Count  int `json:"count"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeErr(w, ctJSON, 47001, "")
		return 0, 0, false
	}
	if req.Offset < 0 || req.Count < 1 || req.Count > 20 {
		writeErr(w, ctJSON, 47003, "argument invalid! count or offset invalid")
		return 0, 0, false
	}
	return req.Offset, req.Count, true
}

// handleLibraryList serves POST /cgi-bin/wxopen/template/library/list with {offset, count}
// (count 1..20): list [{id, title}] and total_count.
func (s *Server) handleLibraryList(w http.ResponseWriter, r *http.Request, a *app, body []byte) {
	off, n, ok := offsetCount(w, body)
	if !ok {
		return
	}
	type item struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	resp := struct {
		ErrCode    int    `json:"errcode"`
		ErrMsg     string `json:"errmsg"`
		List       []item `json:"list"`
		TotalCount int    `json:"total_count"`
	}{ErrMsg: "ok", List: []item{}, TotalCount: len(s.lib.legacy)}
	for i := off; i < len(s.lib.legacy) && i < off+n; i++ {
		resp.List = append(resp.List, item{s.lib.legacy[i].ID, s.lib.legacy[i].Title})
	}
	writeJSON(w, resp)
}

// handleLibraryGet serves POST /cgi-bin/wxopen/template/library/get with {id}: id, title and
// keyword_list [{keyword_id, name, example}]. Unknown id: 47003.
func (s *Server) handleLibraryGet(w http.ResponseWriter, r *http.Request, a *app, body []byte) {
	var req struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeErr(w, ctJSON, 47001, "")
		return
	}
	t := s.lib.legacyTitle(req.ID)
	if t == nil {
		writeErr(w, ctJSON, 47003, "argument invalid! id invalid")
		return
	}
	writeJSON(w, struct {
		ErrCode     int             `json:"errcode"`
		ErrMsg      string          `json:"errmsg"`
		ID          string          `json:"id"`
		Title       string          `json:"title"`
		KeywordList []legacyKeyword `json:"keyword_list"`
	}{0, "ok", t.ID, t.Title, t.Keywords})
}

// handleLegacyAdd serves POST /cgi-bin/wxopen/template/add with {id, keyword_id_list}: a new
// template whose data keys are keyword1..N in keyword_id_list order; answers template_id.
// Unknown id or keyword ids (or an empty or repeating list): 47003.
func (s *Server) handleLegacyAdd(w http.ResponseWriter, r *http.Request, a *app, body []byte) {
	var req struct {
		ID            string `json:"id"`
		KeywordIDList []int  `json:"keyword_id_list"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeErr(w, ctJSON, 47001, "")
		return
	}
	lt := s.lib.legacyTitle(req.ID)
	if lt == nil {
		writeErr(w, ctJSON, 47003, "argument invalid! id invalid")
		return
	}
	if len(req.KeywordIDList) == 0 || len(req.KeywordIDList) > 10 {
		writeErr(w, ctJSON, 47003, "argument invalid! keyword_id_list invalid")
		return
	}
	seen := map[int]bool{}
	var kws []Keyword
	for i, id := range req.KeywordIDList {
		k := lt.keyword(id)
		if k == nil || seen[id] {
			writeErr(w, ctJSON, 47003, "argument invalid! keyword_id_list invalid")
			return
		}
		seen[id] = true
		kws = append(kws, Keyword{Key: "keyword" + strconv.Itoa(i+1), Name: k.Name, Example: k.Example})
	}
	t := newTemplate(randomID(32), lt.Title, kws)
	t.legacy = true
	a.putTemplate(t)
	writeJSON(w, struct {
		ErrCode    int    `json:"errcode"`
		ErrMsg     string `json:"errmsg"`
		TemplateID string `json:"template_id"`
	}{0, "ok", t.ID})
}

// handleLegacyList serves POST /cgi-bin/wxopen/template/list with {offset, count} (1..20):
// list [{template_id, title, content, example}].
func (s *Server) handleLegacyList(w http.ResponseWriter, r *http.Request, a *app, body []byte) {
	off, n, ok := offsetCount(w, body)
	if !ok {
		return
	}
	type item struct {
		TemplateID string `json:"template_id"`
		Title      string `json:"title"`
		Content    string `json:"content"`
		Example    string `json:"example"`
	}
	resp := struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
		List    []item `json:"list"`
	}{ErrMsg: "ok", List: []item{}}
	all := sortedTemplates(*a.legacy.Load())
	for i := off; i < len(all) && i < off+n; i++ {
		t := all[i]
		resp.List = append(resp.List, item{t.ID, t.Title, t.content(), t.example()})
	}
	writeJSON(w, resp)
}

// handleLegacyDel serves POST /cgi-bin/wxopen/template/del with {template_id}. Unknown: 40037.
func (s *Server) handleLegacyDel(w http.ResponseWriter, r *http.Request, a *app, body []byte) {
	var req struct {
		TemplateID string `json:"template_id"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeErr(w, ctJSON, 47001, "")
		return
	}
	if !a.delTemplate(req.TemplateID, true) {
		writeErr(w, ctJSON, 40037, "")
		return
	}
	writeRaw(w, ctJSON, okBody)
}
