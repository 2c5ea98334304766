package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wxnotify/wxnotify/internal/testdb"
)

// chromiumPath finds the browser for the dashboard tests. Without one the
// test fails on CI (CI=true), where .ci/run installs it, and skips
// elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("WXNOTIFY_CHROMIUM"), "chromium", "chromium-browser", "/usr/bin/chromium", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no chromium found (apt-get install -y chromium, or set WXNOTIFY_CHROMIUM): the dashboard browser test cannot run"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile. The flags
// keep it off the network: without them it stalls on a machine without one.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 960),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	// The deadline bounds a hung browser; it asserts no speed.
	ctx, cancelTimeout := context.WithTimeout(ctx, 180*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// screenshot saves the page as testout/NAME.png at the repository root.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", "testout")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// dashWords are the labels the test expects in each language; they are
// the dashboard's own (dashboard/app.js I18N), repeated here so that a
// missing translation fails the test.
var dashWords = map[string]map[string]string{
	"en": {
		"nav": "Messages", "detail": "Message #%d", "delivered": "delivered", "cancelled": "cancelled",
		"audit.cancel": "cancel message", "audit.retry": "retry message", "audit.pause": "pause schedule",
		"audit.token": "refresh access_token", "audit.sync": "sync templates",
		"refresh": "Refresh access_token", "synced": "synced", "finished": "finished",
		"per_minute": "messages per minute", "per_hour": "messages per hour",
	},
	"zh-CN": {
		"nav": "消息", "detail": "消息 #%d", "delivered": "已送达", "cancelled": "已取消",
		"audit.cancel": "取消消息", "audit.retry": "重试消息", "audit.pause": "暂停定时发送",
		"audit.token": "刷新 access_token", "audit.sync": "同步模板",
		"refresh": "刷新 access_token", "synced": "已同步", "finished": "已完成",
		"per_minute": "条/分钟", "per_hour": "条/小时",
	},
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitText waits until the text of the element sel contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return void(chromedp.Poll[bool](fmt.Sprintf(`(() => { const el = document.querySelector(%s); return !!el && el.textContent.includes(%s); })()`,
		jsString(sel), jsString(want)), chromedp.WithPollingInterval(50*time.Millisecond)))
}

// jsClick waits for sel and clicks it in one step of the page: the views
// re-render their rows as they poll, so a node found in one protocol call
// may be gone by the next.
func jsClick(sel string) chromedp.Action[chromedp.Void] {
	return void(chromedp.Poll[bool](fmt.Sprintf(`(() => { const el = document.querySelector(%s); if (!el) return false; el.click(); return true; })()`,
		jsString(sel)), chromedp.WithPollingInterval(50*time.Millisecond)))
}

// jsText reads the text of sel, once it is there.
func jsText(sel string, p *string) chromedp.Action[chromedp.Void] {
	return into(chromedp.Poll[string](fmt.Sprintf(`(() => { const el = document.querySelector(%s); return el ? el.textContent : false; })()`,
		jsString(sel)), chromedp.WithPollingInterval(50*time.Millisecond)), p)
}

// confirmed clicks sel, then Confirm in the page's confirmation.
func confirmed(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		jsClick(sel),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		chromedp.WaitNotVisible(chromedp.CSS("#confirm")),
	)
}

// void drops an action's value, so it can be a step of chromedp.Do.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// into is a step that stores an action's value in *p.
func into[T any](a chromedp.Action[T], p *T) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*p = v
		return chromedp.Void{}, err
	}
}

// TestE2E_Dashboard logs in to the dashboard of a real `wxnotify serve` in
// headless Chromium, once in each language, and works it as an operator:
// a message arrives as delivered with its attempt; a queued one is
// cancelled and a no_credit one retried; a schedule is paused, resumed and
// deleted; a token refreshed and templates re-synced; each action's
// effect shows in its view and its entry in the audit log; a broadcast
// ends finished; the charts switch range and units; at 360 px wide no view
// is wider than the screen.
func TestE2E_Dashboard(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"en", "zh-CN"} {
		t.Run(lang, func(t *testing.T) { testDashboard(t, lang) })
	}
}

func testDashboard(t *testing.T, lang string) {
	words := dashWords[lang]
	ctx := newBrowser(t)
	const password = "e2e-operator-password"
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "wx.db")
	e := newEnv(t, dsn)
	sim := e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret)
	e.vars = append(e.vars, "WXNOTIFY_WECHAT_URL="+sim.url, "WXNOTIFY_ADMIN_PASSWORD="+password)
	e.mustRun(demoSecret+"\n", "app", "add", demoApp, "--name", "shop")
	key := strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "orders", "--app", demoApp))
	tpl := simCtl(t, sim.url, "/templates", map[string]any{"appid": demoApp, "title": "发货通知",
		"keywords": []map[string]string{{"key": "thing1", "name": "商品"}}})["template_id"].(string)
	e.mustRun("", "template", "sync", demoApp)
	e.mustRun("", "template", "alias", demoApp, "shipped", tpl)
	grantAll(t, dsn, sim.url, tpl, 1, 3)
	serve := e.start("serve", "--addr", "127.0.0.1:0")
	api := serve.url
	fail := func(what string, err error) {
		t.Helper()
		screenshot(t, ctx, "dashboard-"+lang+"-failed")
		t.Fatalf("%s: %v\nserve: %s", what, err, serve.Stderr())
	}

	if resp, err := http.Get(api + "/dashboard/"); err != nil || resp.StatusCode != 200 {
		code := 0
		if resp != nil {
			code = resp.StatusCode
			resp.Body.Close()
		}
		t.Fatalf("GET /dashboard/: %d %v: cmd/wxnotify/instance.go must pass WXNOTIFY_ADMIN_PASSWORD to Server.DashboardPassword", code, err)
	}

	// The language: English is chosen by the remembered choice, Chinese
	// with the switch on the login page, which is remembered too.
	err := chromedp.Do(ctx, chromedp.Navigate(api+"/dashboard/"), chromedp.WaitVisible(chromedp.CSS("#password")))
	if err != nil {
		fail("open", err)
	}
	if lang == "en" {
		err = chromedp.Do(ctx, void(chromedp.Evaluate[bool](`localStorage.setItem('wxnotify.dashboard.lang', 'en') || true`)), chromedp.Reload())
	} else {
		err = chromedp.Do(ctx, void(chromedp.Evaluate[bool](`(() => { const s = document.querySelector('#login-view .lang-select');
			s.value = 'zh-CN'; s.dispatchEvent(new Event('change')); return true; })()`)), chromedp.Reload())
	}
	if err != nil {
		fail("choose the language", err)
	}
	var htmlLang string
	err = chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#password")),
		into(chromedp.Evaluate[string](`document.documentElement.lang`), &htmlLang),
		chromedp.SendKeys(chromedp.CSS("#password"), "not-the-password"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#login-error:not(:empty)")),
	)
	if err != nil {
		fail("wrong password", err)
	}
	if htmlLang != lang {
		t.Fatalf("page language %q, want %q (remembered)", htmlLang, lang)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#nav")),
		chromedp.WaitVisible(chromedp.CSS("#overview-tokens .health-valid, #overview-tokens .health-none")),
		waitText("#tab-messages", words["nav"]),
	)
	if err != nil {
		fail("log in", err)
	}

	// Every static string of index.html went through the dictionary.
	var untranslated []string
	err = chromedp.Do(ctx, into(chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-i18n]')]
		.filter((el) => !el.textContent.trim() || el.textContent === el.dataset.i18n).map((el) => el.dataset.i18n)`), &untranslated))
	if err != nil || len(untranslated) > 0 {
		t.Fatalf("untranslated strings in index.html: %v %v", untranslated, err)
	}

	// A delivered message, its template named by alias and title.
	const user0, user1 = "oUSER0000000000000", "oUSER0000000000001"
	id := postMessage(t, api, key, map[string]any{"appid": demoApp, "openid": user0, "template_id": tpl,
		"data": map[string]string{"thing1": "书"}})
	row := fmt.Sprintf("#msg-%d", id)
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#tab-messages")),
		chromedp.WaitVisible(chromedp.CSS(row+" .state-delivered")),
		waitText(row+" .state-delivered", words["delivered"]),
		waitText(row, "shipped · 发货通知"),
		jsClick(row),
		chromedp.WaitVisible(chromedp.CSS("#attempts .state-delivered")),
		waitText("#message-detail", fmt.Sprintf(words["detail"], id)),
		waitText("#message-detail", "书"),
	)
	if err != nil {
		fail(fmt.Sprintf("message %d delivered on the page", id), err)
	}
	if lang == "en" {
		screenshot(t, ctx, "dashboard-messages")
	}

	// Cancel a message due in an hour.
	later := postMessage(t, api, key, map[string]any{"appid": demoApp, "openid": user0, "template_id": tpl,
		"data": map[string]string{"thing1": "笔"}, "send_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	err = chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#msg-%d .state-queued", later))),
		jsClick(fmt.Sprintf("#msg-%d", later)),
		waitText("#message-detail h2", fmt.Sprintf(words["detail"], later)),
		confirmed("#action-cancel"),
		chromedp.WaitVisible(chromedp.CSS("#detail-state .state-cancelled")),
		waitText("#detail-state", words["cancelled"]),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#msg-%d .state-cancelled", later))),
	)
	if err != nil {
		fail("cancel", err)
	}

	// Retry a message that found no credit, once the user has one.
	noCredit := postMessage(t, api, key, map[string]any{"appid": demoApp, "openid": user1, "template_id": tpl,
		"data": map[string]string{"thing1": "纸"}})
	if m := waitMessage(t, api, key, noCredit); m.State != "no_credit" {
		t.Fatalf("message to a user without credit: %s, want no_credit", m.State)
	}
	grantAll(t, dsn, sim.url, tpl, 2, 1)
	err = chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#msg-%d .state-no_credit", noCredit))),
		jsClick(fmt.Sprintf("#msg-%d", noCredit)),
		waitText("#message-detail h2", fmt.Sprintf(words["detail"], noCredit)),
		confirmed("#action-retry"),
		chromedp.WaitVisible(chromedp.CSS("#detail-state .state-delivered")),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#msg-%d .state-delivered", noCredit))),
	)
	if err != nil {
		fail("retry", err)
	}

	// A schedule: pause, resume, delete.
	var sc struct {
		ID int64 `json:"id"`
	}
	if code := getJSON(t, "POST", api+"/v1/schedules", key, fmt.Sprintf(`{"appid":%q,"name":"daily","cron":"0 9 * * *","timezone":"Asia/Shanghai",
		"message":{"openids":[%q],"template_id":%q,"data":{"thing1":"x"}}}`, demoApp, user0, tpl), &sc); code != 201 {
		t.Fatalf("POST /v1/schedules: %d", code)
	}
	srow := fmt.Sprintf("#schedule-%d", sc.ID)
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#tab-schedules")),
		chromedp.WaitVisible(chromedp.CSS(srow+"[data-state=active]")),
		waitText(srow, "shipped · 发货通知"),
		confirmed(srow+" button[data-action=pause]"),
		chromedp.WaitVisible(chromedp.CSS(srow+"[data-state=paused]")),
		confirmed(srow+" button[data-action=resume]"),
		chromedp.WaitVisible(chromedp.CSS(srow+"[data-state=active]")),
		confirmed(srow+" button[data-action=delete]"),
		chromedp.WaitNotPresent(chromedp.CSS(srow)),
	)
	if err != nil {
		fail("schedule actions", err)
	}

	// The app: a forced token refresh and a template re-sync.
	arow := "#app-" + demoApp
	var fetchesBefore string
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#tab-apps")),
		chromedp.WaitVisible(chromedp.CSS(arow+" .fetches")),
		waitText("#templates-body", "发货通知"),
		waitText("#templates-body", "shipped"),
		waitText(arow+" button[data-action=token-refresh]", words["refresh"]),
		jsText(arow+" .fetches", &fetchesBefore),
		confirmed(arow+" button[data-action=token-refresh]"),
		void(chromedp.Poll[bool](fmt.Sprintf(`document.querySelector(%s).textContent !== %s`, jsString(arow+" .fetches"), jsString(fetchesBefore)))),
		confirmed(arow+" button[data-action=templates-sync]"),
		waitText("#notice", words["synced"]),
	)
	if err != nil {
		fail("app actions", err)
	}

	// Every action is in the audit log, named in the page's language.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#tab-audit")),
		chromedp.WaitVisible(chromedp.CSS(`#audit-body tr[data-action="templates.sync"]`)),
	)
	if err != nil {
		fail("audit log", err)
	}
	for _, a := range []string{"message.cancel", "message.retry", "schedule.pause", "schedule.resume", "schedule.delete", "token.refresh", "templates.sync"} {
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#audit-body tr[data-action=%q]`, a)))); err != nil {
			fail("audit entry "+a, err)
		}
	}
	var audit string
	if err := chromedp.Do(ctx, jsText("#audit-body", &audit)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"audit.cancel", "audit.retry", "audit.pause", "audit.token", "audit.sync"} {
		if !strings.Contains(audit, words[k]) {
			t.Errorf("audit log lacks %q:\n%s", words[k], audit)
		}
	}
	if !strings.Contains(audit, fmt.Sprintf("message %d", later)) || !strings.Contains(audit, fmt.Sprintf("message %d", noCredit)) {
		t.Errorf("audit log lacks the messages acted on:\n%s", audit)
	}

	// The scheduled jobs, with their last and next run.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tab-jobs")), chromedp.WaitVisible(chromedp.CSS("#jobs-body tr td"))); err != nil {
		fail("jobs", err)
	}

	// A broadcast ends finished, with its counts by outcome.
	var bc struct {
		ID int64 `json:"id"`
	}
	if code := getJSON(t, "POST", api+"/v1/broadcasts", key, fmt.Sprintf(`{"appid":%q,"template_id":%q,"data":{"thing1":"x"},"recipients":[%q]}`,
		demoApp, tpl, user0), &bc); code/100 != 2 {
		t.Fatalf("POST /v1/broadcasts: %d", code)
	}
	brow := fmt.Sprintf("#broadcast-%d", bc.ID)
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#tab-broadcasts")),
		chromedp.WaitVisible(chromedp.CSS(brow+"[data-state=finished]")),
		waitText(brow+" .bc-state", words["finished"]),
		waitText(brow+` [data-outcome="delivered"] b`, "1"),
	)
	if err != nil {
		fail("broadcast", err)
	}

	// The charts: the range picker changes the resolution and the units.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#tab-overview")),
		chromedp.Click(chromedp.CSS(`#range button[data-range="24h"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#range button[data-range="24h"][aria-pressed="true"]`)),
		waitText("#unit-rate", words["per_minute"]),
		chromedp.Click(chromedp.CSS(`#range button[data-range="30d"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#range button[data-range="30d"][aria-pressed="true"]`)),
		waitText("#unit-rate", words["per_hour"]),
		chromedp.Click(chromedp.CSS(`#range button[data-range="1h"]`)),
		waitText("#unit-rate", words["per_minute"]),
	)
	if err != nil {
		fail("history range", err)
	}
	if lang == "en" {
		screenshot(t, ctx, "dashboard-overview")
	}

	// 360 px wide: the top bar wraps and no view is wider than the screen.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 780)); err != nil {
		t.Fatal(err)
	}
	for _, tab := range []string{"overview", "apps", "credits", "messages", "broadcasts", "schedules", "jobs", "audit"} {
		var width int
		err := chromedp.Do(ctx,
			void(chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector('#tab-%s').click() || true`, tab))),
			chromedp.WaitVisible(chromedp.CSS("#view-"+tab)),
			chromedp.WaitVisible(chromedp.CSS("#updated:not(:empty), #tab-"+tab+`[aria-selected="true"]`)),
			into(chromedp.Evaluate[int](`document.documentElement.scrollWidth`), &width),
		)
		if err != nil {
			fail("360 px "+tab, err)
		}
		if width > 360 {
			screenshot(t, ctx, "dashboard-360-"+tab)
			t.Errorf("at 360 px the %s view is %d px wide", tab, width)
		}
	}
	if lang == "zh-CN" {
		if err := chromedp.Do(ctx, void(chromedp.Evaluate[bool](`document.querySelector('#tab-overview').click() || true`)), chromedp.WaitVisible(chromedp.CSS("#chart-rate"))); err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "dashboard-360-zh")
	}

	// Logging out closes the data to the page.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#password")),
	)
	if err != nil {
		fail("log out", err)
	}
	for _, secret := range []string{password, demoSecret, key} {
		if strings.Contains(serve.Stderr(), secret) {
			t.Fatal("a secret reached the logs")
		}
	}
}

// dashboardClient logs in to the dashboard API of the instance at base.
func dashboardClient(t *testing.T, base, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	req, _ := http.NewRequest("POST", base+"/dashboard/login", strings.NewReader(fmt.Sprintf(`{"password":%q}`, password)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Wxnotify-Dashboard", "1")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("dashboard login at %s: %d", base, resp.StatusCode)
	}
	return c
}

func dashboardGet(t *testing.T, c *http.Client, url string) []byte {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

// TestE2E_DashboardSharedHistory runs two instances on one PostgreSQL
// schema: both dashboards show the same history, the messages either
// instance delivered, in the JSON the charts read and in the totals the
// page renders.
func TestE2E_DashboardSharedHistory(t *testing.T) {
	if os.Getenv(testdb.PostgresEnv) == "" {
		t.Skipf("set %s to run two instances on one database", testdb.PostgresEnv)
	}
	t.Parallel()
	ctx := newBrowser(t)
	const password = "e2e-operator-password"
	dsn := testdb.PostgresSchemaDSN(t)
	e := newEnv(t, dsn)
	sim := e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret)
	e.vars = append(e.vars, "WXNOTIFY_WECHAT_URL="+sim.url, "WXNOTIFY_ADMIN_PASSWORD="+password)
	e.mustRun("", "migrate")
	e.mustRun(demoSecret+"\n", "app", "add", demoApp)
	key := strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "orders", "--app", demoApp))
	tpl := simCtl(t, sim.url, "/templates", map[string]any{"appid": demoApp, "title": "发货通知",
		"keywords": []map[string]string{{"key": "thing1", "name": "商品"}}})["template_id"].(string)
	const n = 3
	grantAll(t, dsn, sim.url, tpl, 1, n)
	a := e.start("serve", "--addr", "127.0.0.1:0")
	b := e.start("serve", "--addr", "127.0.0.1:0")
	for i := range n {
		api := []string{a.url, b.url}[i%2]
		id := postMessage(t, api, key, map[string]any{"appid": demoApp, "openid": "oUSER0000000000000", "template_id": tpl,
			"data": map[string]string{"thing1": "书"}})
		if m := waitMessage(t, api, key, id); m.State != "delivered" {
			t.Fatalf("message %d: %s", id, m.State)
		}
	}

	ca, cb := dashboardClient(t, a.url, password), dashboardClient(t, b.url, password)
	delivered := func(body []byte) int64 {
		var h struct {
			Buckets []struct {
				Outcomes map[string]int64 `json:"outcomes"`
			} `json:"buckets"`
		}
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, x := range h.Buckets {
			sum += x.Outcomes["delivered"]
		}
		return sum
	}
	// The rollup runs every few seconds on each instance; wait (bounded)
	// until it counted every delivery, then both must answer the same.
	deadline := time.Now().Add(60 * time.Second)
	for delivered(dashboardGet(t, ca, a.url+"/dashboard/api/history?range=24h")) < n {
		if time.Now().After(deadline) {
			t.Fatalf("history of instance A never counted %d deliveries", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, rng := range []string{"24h", "30d"} {
		same := false
		var ja, jb []byte
		for try := 0; try < 5 && !same; try++ { // a bucket boundary may fall between two reads
			ja = dashboardGet(t, ca, a.url+"/dashboard/api/history?range="+rng)
			jb = dashboardGet(t, cb, b.url+"/dashboard/api/history?range="+rng)
			same = bytes.Equal(ja, jb)
		}
		if !same {
			t.Fatalf("range %s differs between the instances:\nA: %.500s\nB: %.500s", rng, ja, jb)
		}
		if got := delivered(ja); got != n {
			t.Fatalf("range %s: %d delivered, want %d", rng, got, n)
		}
	}

	// The page of each instance renders the same totals.
	totals := map[string]string{}
	for name, p := range map[string]*process{"A": a, "B": b} {
		var got string
		err := chromedp.Do(ctx,
			chromedp.Navigate(p.url+"/dashboard/"),
			void(chromedp.Evaluate[bool](`localStorage.setItem('wxnotify.dashboard.range', '24h') || true`)),
			chromedp.Reload(),
			chromedp.WaitVisible(chromedp.CSS("#password")),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS("#login-submit")),
			chromedp.WaitVisible(chromedp.CSS(`#history-totals[data-delivered="3"]`)),
			into(chromedp.Text(chromedp.CSS("#history-totals")), &got),
		)
		if err != nil {
			t.Fatalf("instance %s's page: %v", name, err)
		}
		totals[name] = got
	}
	if totals["A"] != totals["B"] {
		t.Fatalf("rendered totals differ: %q vs %q", totals["A"], totals["B"])
	}
}
