package http_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/catalog"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/mock"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/wechat"
	"github.com/wxnotify/wxnotify/wechatsim"
)

// TestTemplateRoutes drives the template routes against the real catalog
// over the simulator and SQLite, with a key for app A only.
func TestTemplateRoutes(t *testing.T) {
	t.Parallel()
	sim := wechatsim.New(wechatsim.Options{})
	sim.AddApp(wechatsim.App{AppID: appA, Secret: "s"})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	key, _ := seal.ParseKey(seal.GenerateKey())
	box, _ := seal.New(key)
	st := testdb.NewSQLiteDB(t)(t)
	apps := &token.AppService{Store: st, Box: box}
	if err := apps.CreateApp(context.Background(), &wxnotify.App{AppID: appA, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	client := wechat.New(wechat.Options{BaseURL: simSrv.URL})
	cat := &catalog.Service{Store: st, Queue: queue.New(st), Client: client,
		Tokens: &token.Service{Store: st, Box: box, Fetcher: token.WeChatFetcher{Client: client}}}

	s := wxhttp.NewServer()
	s.Addr = "127.0.0.1:0"
	s.TemplateService = cat
	s.APIKeyService = &mock.APIKeyService{AuthenticateFunc: func(_ context.Context, k string) (*wxnotify.APIKey, error) {
		if k == "key-a" {
			return &wxnotify.APIKey{ID: "a", Name: "svc", Apps: []string{appA}}, nil
		}
		return nil, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "invalid API key")
	}}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	base := s.URL() + "/v1/apps/" + appA

	id := sim.AddTemplateDirect(appA, "发货通知", wechatsim.Keyword{Key: "thing1", Name: "商品"}, wechatsim.Keyword{Key: "time2", Name: "时间"})
	expect := func(method, url, body string, status int, out any) string {
		t.Helper()
		resp, got := do(t, method, url, "key-a", body)
		if resp.StatusCode != status {
			t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, got, status)
		}
		if out != nil {
			if err := json.Unmarshal([]byte(got), out); err != nil {
				t.Fatalf("%s %s: %v in %s", method, url, err, got)
			}
		}
		return got
	}

	if resp, _ := do(t, "GET", base+"/templates", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no key: %d, want 401", resp.StatusCode)
	}
	expect("GET", s.URL()+"/v1/apps/"+appB+"/templates", "", http.StatusForbidden, nil)

	var sync wxhttp.TemplateSyncResult
	expect("POST", base+"/templates/sync", "", http.StatusOK, &sync)
	if sync.Added != 1 || sync.Removed != 0 {
		t.Fatalf("sync: %+v", sync)
	}
	var list wxhttp.TemplateList
	expect("GET", base+"/templates", "", http.StatusOK, &list)
	if len(list.Templates) != 1 || list.Templates[0].TemplateID != id || len(list.Templates[0].Keywords) != 2 {
		t.Fatalf("list: %+v", list.Templates)
	}

	var alias wxnotify.TemplateAlias
	expect("PUT", base+"/template_aliases/order_shipped", `{"template_id":"`+id+`"}`, http.StatusOK, &alias)
	if alias.TemplateID != id || alias.Alias != "order_shipped" {
		t.Fatalf("alias: %+v", alias)
	}
	body := expect("PUT", base+"/template_aliases/Bad%20Alias", `{"template_id":"`+id+`"}`, http.StatusBadRequest, nil)
	if !strings.Contains(body, `"field":"alias"`) {
		t.Fatalf("bad alias answer %s, want field alias", body)
	}
	var tpl wxnotify.Template
	expect("GET", base+"/templates/order_shipped", "", http.StatusOK, &tpl)
	if tpl.TemplateID != id {
		t.Fatalf("get by alias: %+v", tpl)
	}
	expect("PUT", base+"/templates/order_shipped/truncate", `{"keys":["thing1"]}`, http.StatusOK, &tpl)
	if len(tpl.TruncateThing) != 1 {
		t.Fatalf("truncate: %+v", tpl)
	}
	body = expect("PUT", base+"/templates/"+id+"/truncate", `{"keys":["time2"]}`, http.StatusBadRequest, nil)
	if !strings.Contains(body, `"field":"keys[0]"`) {
		t.Fatalf("truncate a time keyword: %s", body)
	}
	expect("DELETE", base+"/template_aliases/order_shipped", "", http.StatusNoContent, nil)
	expect("DELETE", base+"/template_aliases/order_shipped", "", http.StatusNotFound, nil)

	var page wxnotify.LibraryPage
	expect("GET", base+"/template_library?kind=subscribe&category=307", "", http.StatusOK, &page)
	if page.Total != 3 || page.Titles[0].ID != "1001" {
		t.Fatalf("library: %+v", page)
	}
	expect("GET", base+"/template_library?kind=template&limit=2", "", http.StatusOK, &page)
	if page.Total != 4 || len(page.Titles) != 2 {
		t.Fatalf("legacy library: %+v", page)
	}
	expect("GET", base+"/template_library?category=x", "", http.StatusBadRequest, nil)
	var cats wxhttp.TemplateCategoryList
	expect("GET", base+"/template_library/categories", "", http.StatusOK, &cats)
	if len(cats.Categories) == 0 {
		t.Fatal("no categories")
	}
	var kws wxhttp.TemplateKeywordList
	expect("GET", base+"/template_library/1001", "", http.StatusOK, &kws)
	if len(kws.Keywords) != 5 {
		t.Fatalf("keywords: %+v", kws)
	}

	var added wxnotify.Template
	expect("POST", base+"/templates", `{"tid":"1001","kid_list":[2,4],"scene_desc":"发货时"}`, http.StatusCreated, &added)
	if added.Title != "订单发货通知" || len(added.Keywords) != 2 {
		t.Fatalf("added: %+v", added)
	}
	expect("POST", base+"/templates", `{"tid":"1001","kid_list":[2]}`, http.StatusBadRequest, nil)
	expect("DELETE", base+"/templates/"+added.TemplateID, "", http.StatusNoContent, nil)
	expect("GET", base+"/templates/"+added.TemplateID, "", http.StatusOK, &tpl)
	if !tpl.Deleted {
		t.Fatalf("after delete: %+v", tpl)
	}
	expect("DELETE", base+"/templates/NOPE", "", http.StatusNotFound, nil)
}

func TestTemplateRoutes_Unconfigured(t *testing.T) {
	t.Parallel()
	s := mustOpenServer(t, &mock.TokenService{})
	if resp, body := do(t, "GET", s.URL()+"/v1/apps/"+appA+"/templates", "key-a", ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("no TemplateService: %d %s, want 503", resp.StatusCode, body)
	}
}
