package wechatsim_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSubscribeTemplateLibrary(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	q := "?access_token=" + tb.token

	var cats struct {
		Data []struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"data"`
	}
	decode(t, call(t, tb.sim, "GET", "/wxaapi/newtmpl/getcategory"+q, ""), &cats)
	if len(cats.Data) < 3 || cats.Data[0].Name == "" {
		t.Fatalf("categories %+v", cats)
	}

	var titles struct {
		ErrCode int `json:"errcode"`
		Count   int `json:"count"`
		Data    []struct {
			Tid        int    `json:"tid"`
			Title      string `json:"title"`
			Type       int    `json:"type"`
			CategoryID string `json:"categoryId"`
		} `json:"data"`
	}
	decode(t, call(t, tb.sim, "GET", "/wxaapi/newtmpl/getpubtemplatetitles"+q+"&ids=616,307&start=1&limit=2", ""), &titles)
	if titles.Count < 5 || len(titles.Data) != 2 || titles.Data[0].Tid == 0 || titles.Data[0].CategoryID == "" {
		t.Fatalf("titles %+v", titles)
	}
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"", 200018},
		{"&ids=a,b&start=0&limit=1", 200019},
		{"&ids=616&start=-1&limit=1", 200016},
		{"&ids=616&start=0&limit=31", 200017},
		{"&ids=616&start=0&limit=0", 200017},
	} {
		if c, _ := errcode(t, tb.sim, "GET", "/wxaapi/newtmpl/getpubtemplatetitles"+q+tt.query, ""); c != tt.want {
			t.Errorf("titles%s: %d, want %d", tt.query, c, tt.want)
		}
	}

	var kws struct {
		Count int `json:"count"`
		Data  []struct {
			Kid  int    `json:"kid"`
			Name string `json:"name"`
			Rule string `json:"rule"`
		} `json:"data"`
	}
	decode(t, call(t, tb.sim, "GET", "/wxaapi/newtmpl/getpubtemplatekeywords"+q+"&tid=99", ""), &kws)
	if kws.Count != 5 || kws.Data[1].Rule != "amount" || kws.Data[1].Kid != 2 {
		t.Fatalf("keywords %+v", kws)
	}
	if c, _ := errcode(t, tb.sim, "GET", "/wxaapi/newtmpl/getpubtemplatekeywords"+q+"&tid=1", ""); c != 200014 {
		t.Fatalf("unknown tid: %d", c)
	}

	// addtemplate: JSON and form bodies.
	var added struct {
		ErrCode   int    `json:"errcode"`
		PriTmplID string `json:"priTmplId"`
	}
	decode(t, call(t, tb.sim, "POST", "/wxaapi/newtmpl/addtemplate"+q, `{"tid":"99","kidList":[1,2],"sceneDesc":"测试数据"}`), &added)
	if added.ErrCode != 0 || added.PriTmplID == "" {
		t.Fatalf("addtemplate %+v", added)
	}
	req := httptest.NewRequest("POST", "/wxaapi/newtmpl/addtemplate"+q, strings.NewReader("tid=1002&kidList=3&kidList=4&sceneDesc=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	tb.sim.ServeHTTP(rec, req)
	var added2 struct {
		PriTmplID string `json:"priTmplId"`
	}
	decode(t, rec, &added2)
	if added2.PriTmplID == "" {
		t.Fatalf("form addtemplate: %s", rec.Body)
	}
	for _, tt := range []struct {
		body string
		want int
	}{
		{`{"tid":"12345","kidList":[1,2]}`, 200014},
		{`{"tid":"99","kidList":[1]}`, 200020},
		{`{"tid":"99","kidList":[1,1]}`, 200020},
		{`{"tid":"99","kidList":[1,9]}`, 200020},
		{`{"tid":"99","kidList":[1,2,3,4,5,1]}`, 200020},
		{`{"tid":"99","kidList":[1,2],"sceneDesc":"一二三四五六七八九十一二三四五六"}`, 200021},
		{`{"tid":`, 47001},
	} {
		if c, _ := errcode(t, tb.sim, "POST", "/wxaapi/newtmpl/addtemplate"+q, tt.body); c != tt.want {
			t.Errorf("addtemplate %s: %d, want %d", tt.body, c, tt.want)
		}
	}

	var list struct {
		Data []struct {
			PriTmplID string `json:"priTmplId"`
			Title     string `json:"title"`
			Content   string `json:"content"`
			Type      int    `json:"type"`
		} `json:"data"`
	}
	decode(t, call(t, tb.sim, "GET", "/wxaapi/newtmpl/gettemplate"+q, ""), &list)
	var found bool
	for _, d := range list.Data {
		if d.PriTmplID == added.PriTmplID {
			found = true
			if d.Title != "付款成功通知" || d.Content != "物品名称:{{thing1.DATA}}\n付款金额:{{amount2.DATA}}\n" || d.Type != 2 {
				t.Fatalf("template %+v", d)
			}
		}
	}
	if !found || len(list.Data) != 3 {
		t.Fatalf("gettemplate %+v", list)
	}

	// The added template validates its data by rule.
	tb.sim.GrantSubscribe(appID, "oU", added.PriTmplID, 5)
	if c, msg := errcode(t, tb.sim, "POST", sendPath(tb.token), sendBody("oU", added.PriTmplID, "thing1", "会员月卡", "amount2", "12.5元")); c != 0 {
		t.Fatalf("send: %d %s", c, msg)
	}
	if c, msg := errcode(t, tb.sim, "POST", sendPath(tb.token), sendBody("oU", added.PriTmplID, "thing1", "会员月卡", "amount2", "twelve")); c != 47003 || !contains(msg, "data.amount2.value invalid") {
		t.Fatalf("bad amount: %d %s", c, msg)
	}

	if c, _ := errcode(t, tb.sim, "POST", "/wxaapi/newtmpl/deltemplate"+q, `{"priTmplId":"`+added.PriTmplID+`"}`); c != 0 {
		t.Fatalf("deltemplate: %d", c)
	}
	if c, _ := errcode(t, tb.sim, "POST", "/wxaapi/newtmpl/deltemplate"+q, `{"priTmplId":"`+added.PriTmplID+`"}`); c != 40037 {
		t.Fatalf("deltemplate again: %d", c)
	}
	if c, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), sendBody("oU", added.PriTmplID, "thing1", "x", "amount2", "1")); c != 40037 {
		t.Fatalf("send to deleted template: %d", c)
	}
}

func TestLegacyTemplateLibrary(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	q := "?access_token=" + tb.token
	var lib struct {
		List []struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"list"`
		TotalCount int `json:"total_count"`
	}
	decode(t, call(t, tb.sim, "POST", "/cgi-bin/wxopen/template/library/list"+q, `{"offset":0,"count":2}`), &lib)
	if len(lib.List) != 2 || lib.TotalCount < 3 || lib.List[0].ID != "AT0002" {
		t.Fatalf("library %+v", lib)
	}
	if c, _ := errcode(t, tb.sim, "POST", "/cgi-bin/wxopen/template/library/list"+q, `{"offset":0,"count":21}`); c != 47003 {
		t.Fatalf("count 21: %d", c)
	}
	var get struct {
		ID          string `json:"id"`
		KeywordList []struct {
			KeywordID int    `json:"keyword_id"`
			Name      string `json:"name"`
		} `json:"keyword_list"`
	}
	decode(t, call(t, tb.sim, "POST", "/cgi-bin/wxopen/template/library/get"+q, `{"id":"AT0002"}`), &get)
	if get.ID != "AT0002" || len(get.KeywordList) != 3 || get.KeywordList[0].KeywordID != 3 {
		t.Fatalf("library/get %+v", get)
	}
	var add struct {
		TemplateID string `json:"template_id"`
	}
	decode(t, call(t, tb.sim, "POST", "/cgi-bin/wxopen/template/add"+q, `{"id":"AT0002","keyword_id_list":[5,3]}`), &add)
	if add.TemplateID == "" {
		t.Fatal("add gave no template_id")
	}
	if c, _ := errcode(t, tb.sim, "POST", "/cgi-bin/wxopen/template/add"+q, `{"id":"AT0002","keyword_id_list":[99]}`); c != 47003 {
		t.Fatalf("bad keyword id: %d", c)
	}
	var list struct {
		List []struct {
			TemplateID string `json:"template_id"`
			Content    string `json:"content"`
		} `json:"list"`
	}
	decode(t, call(t, tb.sim, "POST", "/cgi-bin/wxopen/template/list"+q, `{"offset":0,"count":20}`), &list)
	if len(list.List) != 1 || list.List[0].Content != "物品名称:{{keyword1.DATA}}\n购买地点:{{keyword2.DATA}}\n" {
		t.Fatalf("list %+v", list)
	}
	form := tb.sim.MintFormID(appID, "oA")
	send := `{"touser":"oA","template_id":"` + add.TemplateID + `","form_id":"` + form + `","data":{"keyword1":{"value":"咖啡"}}}`
	if c, _ := errcode(t, tb.sim, "POST", "/cgi-bin/message/wxopen/template/send"+q, send); c != 0 {
		t.Fatalf("send: %d", c)
	}
	if c, _ := errcode(t, tb.sim, "POST", "/cgi-bin/wxopen/template/del"+q, `{"template_id":"`+add.TemplateID+`"}`); c != 0 {
		t.Fatalf("del: %d", c)
	}
	if c, _ := errcode(t, tb.sim, "POST", "/cgi-bin/wxopen/template/del"+q, `{"template_id":"`+add.TemplateID+`"}`); c != 40037 {
		t.Fatalf("del again: %d", c)
	}
}
