package main_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
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

// TestE2E_Dashboard logs in to the dashboard of a real `wxnotify serve` in
// headless Chromium, sends a message through the API and watches it arrive
// as delivered on the messages page, with its attempt.
func TestE2E_Dashboard(t *testing.T) {
	t.Parallel()
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
	grantAll(t, dsn, sim.url, tpl, 1, 3)
	serve := e.start("serve", "--addr", "127.0.0.1:0")
	api := serve.url

	if resp, err := http.Get(api + "/dashboard/"); err != nil || resp.StatusCode != 200 {
		code := 0
		if resp != nil {
			code = resp.StatusCode
			resp.Body.Close()
		}
		t.Fatalf("GET /dashboard/: %d %v: cmd/wxnotify/instance.go must pass WXNOTIFY_ADMIN_PASSWORD to Server.DashboardPassword", code, err)
	}

	// Log in through the page; a wrong password first.
	err := chromedp.Do(ctx,
		chromedp.Navigate(api+"/dashboard/"),
		chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#password"), "not-the-password"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#login-error:not(:empty)")),
	)
	if err != nil {
		t.Fatalf("wrong password: %v\nserve: %s", err, serve.Stderr())
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#nav")),
		chromedp.WaitVisible(chromedp.CSS("#overview-tokens .health-valid, #overview-tokens .health-none")),
	)
	if err != nil {
		t.Fatalf("log in: %v\nserve: %s", err, serve.Stderr())
	}

	id := postMessage(t, api, key, map[string]any{"appid": demoApp, "openid": "oUSER0000000000000", "template_id": tpl,
		"data": map[string]string{"thing1": "书"}})
	row := fmt.Sprintf("#msg-%d", id)
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#tab-messages")),
		chromedp.WaitVisible(chromedp.CSS(row+" .state-delivered")),
		chromedp.Click(chromedp.CSS(row)),
		chromedp.WaitVisible(chromedp.CSS("#attempts .state-delivered")),
	)
	if err != nil {
		t.Fatalf("message %d delivered on the page: %v\nserve: %s", id, err, serve.Stderr())
	}
	detail, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#message-detail")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(detail, fmt.Sprintf("Message #%d", id)) || !strings.Contains(detail, "书") {
		t.Fatalf("message detail: %q", detail)
	}
	screenshot(t, ctx, "dashboard-messages")

	// The filters reach the server: a state that matches nothing empties
	// the table.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#filter-state"), "failed"),
		chromedp.Click(chromedp.CSS("#message-filters button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#messages-empty")),
		chromedp.Click(chromedp.CSS("#tab-overview")),
		chromedp.WaitVisible(chromedp.CSS("#chart-rate")),
	)
	if err != nil {
		t.Fatalf("filter and overview: %v", err)
	}
	screenshot(t, ctx, "dashboard-overview")

	// Logging out closes the data to the page.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#password")),
	)
	if err != nil {
		t.Fatalf("log out: %v", err)
	}
	for _, secret := range []string{password, demoSecret, key} {
		if strings.Contains(serve.Stderr(), secret) {
			t.Fatal("a secret reached the logs")
		}
	}
}
