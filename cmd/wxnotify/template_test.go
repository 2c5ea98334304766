package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestTemplateCommands runs wxnotify template against the simulator the
// binary serves: sync, ls, lib, add, alias, truncate, rm.
func TestTemplateCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "wx.db"))
	sim := e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret)
	e.vars = append(e.vars, "WXNOTIFY_WECHAT_URL="+sim.url)
	e.mustRun(demoSecret+"\n", "app", "add", demoApp)
	id := simCtl(t, sim.url, "/templates", map[string]any{"appid": demoApp, "title": "发货通知",
		"keywords": []map[string]string{{"key": "thing1", "name": "商品"}, {"key": "time2", "name": "时间"}}})["template_id"].(string)

	if out := e.mustRun("", "template", "sync"); !strings.Contains(out, demoApp+": 1 added, 0 removed") {
		t.Fatalf("template sync: %q", out)
	}
	out := e.mustRun("", "template", "ls", demoApp)
	if !strings.Contains(out, id) || !strings.Contains(out, "thing1(商品) time2(时间)") || !strings.Contains(out, "live") {
		t.Fatalf("template ls:\n%s", out)
	}
	if out := e.mustRun("", "template", "alias", "--", demoApp, "order_shipped", id); !strings.Contains(out, "order_shipped → "+id) {
		t.Fatalf("template alias: %q", out)
	}
	if out := e.mustRun("", "template", "truncate", demoApp, "order_shipped", "thing1"); !strings.Contains(out, "truncates: thing1") {
		t.Fatalf("template truncate: %q", out)
	}
	var list []struct {
		TemplateID    string   `json:"template_id"`
		Aliases       []string `json:"aliases"`
		TruncateThing []string `json:"truncate_thing"`
		Deleted       bool     `json:"deleted"`
	}
	if err := json.Unmarshal([]byte(e.mustRun("", "--json", "template", "ls", demoApp)), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].TemplateID != id || strings.Join(list[0].Aliases, ",") != "order_shipped" || strings.Join(list[0].TruncateThing, ",") != "thing1" {
		t.Fatalf("template ls --json: %+v", list)
	}

	if out := e.mustRun("", "template", "lib", demoApp, "--category", "307"); !strings.Contains(out, "1001") || !strings.Contains(out, "订单发货通知") {
		t.Fatalf("template lib:\n%s", out)
	}
	if out := e.mustRun("", "template", "lib", demoApp, "1001"); !strings.Contains(out, "商品名称") || !strings.Contains(out, "thing") {
		t.Fatalf("template lib TID:\n%s", out)
	}
	if out := e.mustRun("", "template", "lib", demoApp, "--kind", "template"); !strings.Contains(out, "AT0002") {
		t.Fatalf("template lib --kind template:\n%s", out)
	}
	var added struct {
		TemplateID string `json:"template_id"`
		Keywords   []struct {
			Key string `json:"key"`
		} `json:"keywords"`
	}
	if err := json.Unmarshal([]byte(e.mustRun("", "--json", "template", "add", demoApp, "1001", "2", "4", "--scene", "发货时")), &added); err != nil {
		t.Fatal(err)
	}
	if added.TemplateID == "" || len(added.Keywords) != 2 || added.Keywords[0].Key != "thing2" {
		t.Fatalf("template add: %+v", added)
	}
	if _, errOut, code := e.run("", "template", "add", demoApp, "1001", "2"); code != 3 || !strings.Contains(errOut, "kid_list") {
		t.Fatalf("template add with one keyword: exit %d, stderr %q; want 3 naming kid_list", code, errOut)
	}
	if _, errOut, code := e.run("", "template", "alias", "--", demoApp, "Bad Alias", id); code != 3 || !strings.Contains(errOut, "alias") {
		t.Fatalf("template alias with a bad alias: exit %d, stderr %q; want 3", code, errOut)
	}
	if _, _, code := e.run("", "template", "rm", demoApp, "no_such"); code != 4 {
		t.Fatalf("template rm unknown: exit %d, want 4", code)
	}
	e.mustRun("", "template", "rm", demoApp, "order_shipped")
	if out := e.mustRun("", "template", "ls", demoApp); !strings.Contains(out, "deleted") {
		t.Fatalf("after rm:\n%s", out)
	}
	e.mustRun("", "template", "alias", demoApp, "order_shipped", "--rm")
	if _, _, code := e.run("", "template", "alias", demoApp, "order_shipped", "--rm"); code != 4 {
		t.Fatalf("alias --rm twice: exit %d, want 4", code)
	}
}
