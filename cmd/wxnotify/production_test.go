package main_test

// Issue 12, "ready to run in production": one configuration for every
// command, the CLI finds a running dev, start-up checks and exit codes,
// versioned builds, dev restarts consistently. Each test runs the real
// binary as a user would.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/internal/seal"
)

// cleanEnv is a shell with nothing of wxnotify set, working in dir.
func cleanEnv(t *testing.T, dir string) *env {
	return &env{t: t, dir: dir, vars: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}}
}

// TestConfigOnly_EveryCommand: every command, given nothing but --config,
// acts on the database and the WeChat URL of the file (and the remote
// commands on its server and API key file). The working directory is
// empty, so a command that fell back to its default would create
// ./wxnotify.db there or call the real WeChat.
func TestConfigOnly_EveryCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := cleanEnv(t, dir)
	sim := e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret)
	dbPath := filepath.Join(dir, "data", "wx.db")
	keyFile, apiKeyFile := filepath.Join(dir, "secret.key"), filepath.Join(dir, "api.key")
	if err := os.WriteFile(keyFile, []byte(seal.GenerateKey()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "prod.toml")
	write := func(extra string) {
		t.Helper()
		body := fmt.Sprintf("[database]\ndsn = %q\n[secrets]\nkey_file = %q\n[wechat]\nbase_url = %q\n[http]\naddr = \"127.0.0.1:0\"\n[delivery]\nwebhook_allow_private = true\n%s",
			"sqlite://"+dbPath, keyFile, sim.url, extra)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	c := func(args ...string) []string { return append(args, "--config", conf) }

	if out := e.mustRun("", c("migrate")...); !strings.Contains(out, dbPath) {
		t.Fatalf("migrate: %q, want the configured database", out)
	}
	e.mustRun(demoSecret+"\n", c("app", "add", demoApp, "--name", "shop")...)
	if out := e.mustRun("", c("app", "list")...); !strings.Contains(out, demoApp) {
		t.Fatalf("app list: %q", out)
	}
	key := strings.TrimSpace(e.mustRun("", c("apikey", "create", "--name", "ops", "--app", "*")...))
	if err := os.WriteFile(apiKeyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := e.mustRun("", c("apikey", "ls")...); !strings.Contains(out, "ops") {
		t.Fatalf("apikey ls: %q", out)
	}
	tok := strings.TrimSpace(e.mustRun("", c("token", "get", demoApp)...))
	var calls map[string]any
	getJSON(t, "GET", sim.url+"/sim/calls?path=/cgi-bin/stable_token&appid="+demoApp, "", "", &calls)
	if n, _ := calls["count"].(float64); tok == "" || n < 1 {
		t.Fatalf("token get: %q, and the configured simulator saw %v token calls, want some", tok, calls["count"])
	}
	if out := e.mustRun("", c("token", "status")...); !strings.Contains(out, "valid") {
		t.Fatalf("token status: %q", out)
	}
	tpl := simCtl(t, sim.url, "/templates", map[string]any{"appid": demoApp, "title": "发货通知",
		"keywords": []map[string]string{{"key": "thing1", "name": "商品"}}})["template_id"].(string)
	if out := e.mustRun("", c("template", "sync")...); !strings.Contains(out, "1 added") {
		t.Fatalf("template sync: %q, want the simulator's template", out)
	}
	if out := e.mustRun("", c("template", "ls", demoApp)...); !strings.Contains(out, tpl) {
		t.Fatalf("template ls: %q", out)
	}
	grantAll(t, "sqlite://"+dbPath, sim.url, tpl, 1, 3)

	api := e.start(c("serve")...).url
	write(fmt.Sprintf("[client]\nurl = %q\napi_key_file = %q\n", api, apiKeyFile))
	out := e.mustRun("", c("send", "--app", demoApp, "--openid", "oUSER0000000000000", "--template", tpl, "--data", "thing1=书", "--wait")...)
	if !strings.Contains(out, "delivered") {
		t.Fatalf("send --wait: %q", out)
	}
	if n := simDelivered(t, sim.url); n != 1 {
		t.Fatalf("the configured simulator delivered %d, want 1", n)
	}
	if out := e.mustRun("", c("messages", "ls")...); !strings.Contains(out, "delivered") {
		t.Fatalf("messages ls: %q", out)
	}
	csv := filepath.Join(dir, "to.csv")
	os.WriteFile(csv, []byte("openid\noUSER0000000000000\n"), 0o600)
	if out, errOut, code := e.run("", c("broadcast", "--app", demoApp, "--template", tpl, "--data", "thing1=书", "--csv", csv)...); code != 0 || !strings.Contains(out, "delivered  1") {
		t.Fatalf("broadcast: exit %d\n%s\n%s", code, out, errOut)
	}
	if out := e.mustRun("", c("credits", "stats", "--app", demoApp)...); !strings.Contains(out, tpl) {
		t.Fatalf("credits stats: %q", out)
	}
	if out := e.mustRun("", c("jobs")...); !strings.Contains(out, "token_refresh") {
		t.Fatalf("jobs: %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "wxnotify.db")); err == nil {
		t.Fatal("a command used ./wxnotify.db, not the configured database")
	}
}

// TestDev_SecondTerminal: after `wxnotify dev` in one terminal, the
// README's operator commands work in a second terminal in the same
// directory (and below it) with no variable set.
func TestDev_SecondTerminal(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	d := startDev(t, cleanEnv(t, base), ".wxnotify-dev")
	if !strings.Contains(d.banner, "wxnotify dev env") {
		t.Errorf("the banner does not say how the CLI finds dev:\n%s", d.banner)
	}
	conn := filepath.Join(base, ".wxnotify-dev", "connect.toml")
	if fi, err := os.Stat(conn); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("connection file: %v, %v", fi, err)
	}
	second := cleanEnv(t, base)
	secretKey, _ := os.ReadFile(filepath.Join(base, ".wxnotify-dev", "secret.key"))
	cliKey, _ := os.ReadFile(filepath.Join(base, ".wxnotify-dev", "api.key"))
	secrets := []string{strings.TrimSpace(string(secretKey)), strings.TrimSpace(string(cliKey))}
	run := func(args ...string) string {
		t.Helper()
		out := second.mustRun("", args...)
		for _, s := range secrets {
			if s != "" && strings.Contains(out, s) {
				t.Fatalf("wxnotify %v printed a secret:\n%s", args, out)
			}
		}
		return out
	}

	if out := run("app", "list"); !strings.Contains(out, "wx0000000000000dev") {
		t.Fatalf("app list: %q", out)
	}
	var tokenResp struct {
		AccessToken string `json:"access_token"`
	}
	getJSON(t, "GET", d.api+"/v1/apps/wx0000000000000dev/access_token", d.key, "", &tokenResp)
	if got := strings.TrimSpace(second.mustRun("", "token", "get", "wx0000000000000dev")); got == "" || got != tokenResp.AccessToken {
		t.Fatalf("token get: %q, want dev's token", got)
	}
	out := run("send", "--app", "wx0000000000000dev", "--openid", "oDEV00000000000000000demo001", "--template", "order_shipped",
		"--data", "character_string1=A-2001", "--data", "thing2=书", "--data", "time3=2026-11-25 13:00", "--wait")
	id := strings.Fields(out)[0]
	if !strings.HasSuffix(strings.TrimSpace(out), "delivered") {
		t.Fatalf("send --wait: %q", out)
	}
	if out := run("messages", "ls"); !strings.Contains(out, id+" ") || !strings.Contains(out, "delivered") {
		t.Fatalf("messages ls: %q, want message %s", out, id)
	}
	run("messages", "show", id)
	for _, args := range [][]string{{"token", "status"}, {"template", "ls", "wx0000000000000dev"}, {"apikey", "ls"},
		{"credits", "stats", "--app", "wx0000000000000dev"}, {"jobs"}, {"migrate"}} {
		run(args...)
	}
	// From a subdirectory too, as git finds .git.
	sub := filepath.Join(base, "src", "app")
	os.MkdirAll(sub, 0o755)
	if out := cleanEnv(t, sub).mustRun("", "app", "list"); !strings.Contains(out, "wx0000000000000dev") {
		t.Fatalf("app list from a subdirectory: %q", out)
	}
	// dev env: export lines for elsewhere, the keys left in their files.
	exports := run("dev", "env")
	for _, want := range []string{"export WXNOTIFY_URL='" + d.api + "'", "export WXNOTIFY_DB=", "export WXNOTIFY_API_KEY_FILE=", "export WXNOTIFY_SECRET_KEY_FILE=", "export WXNOTIFY_WECHAT_URL='" + d.sim + "'"} {
		if !strings.Contains(exports, want) {
			t.Errorf("dev env lacks %q:\n%s", want, exports)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "wxnotify.db")); err == nil {
		t.Fatal("a command created ./wxnotify.db instead of using dev's database")
	}
	d.stop(t)
}

// TestDev_RestartKeepsSimulator: a message queued before dev restarts is
// delivered after it, to the same template: the simulator's templates,
// acceptances and tokens survive the restart next to the database.
func TestDev_RestartKeepsSimulator(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "dev")
	e := cleanEnv(t, "")
	e.vars = append(e.vars, "WXNOTIFY_DEV_DIR=none")
	d := startDev(t, e, dir)
	tplLine := regexp.MustCompile(`(?m)^  templates .*$`).FindString(d.banner)

	// WeChat fails every send until dev stops, so the message waits for a retry.
	simCtl(t, d.sim, "/faults", map[string]any{"path": "/cgi-bin/message/subscribe/send", "errcode": -1})
	id := d.sendPrintedCurl(t, replayCurl)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var m messageView
		getJSON(t, "GET", fmt.Sprintf("%s/v1/messages/%d", d.api, id), d.key, "", &m)
		if len(m.AttemptList) > 0 {
			if m.State != "queued" {
				t.Fatalf("after a -1 the message is %s, want queued for a retry", m.State)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %d was never tried", id)
		}
	}
	d.stop(t)
	if fi, err := os.Stat(filepath.Join(dir, "wechat-sim.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("simulator snapshot: %v %v", fi, err)
	}

	d2 := startDev(t, e, dir)
	if got := regexp.MustCompile(`(?m)^  templates .*$`).FindString(d2.banner); got != tplLine {
		t.Fatalf("templates after restart:\n%s\nwant the same ids:\n%s", got, tplLine)
	}
	m := waitMessage(t, d2.api, d2.key, id)
	if m.State != "delivered" {
		t.Fatalf("message queued before the restart: %+v", m)
	}
	if strings.Contains(d2.p.Stderr(), "43101") || strings.Contains(m.LastError, "deleted") {
		t.Fatalf("the restarted simulator did not know the acceptance or template:\n%s", d2.p.Stderr())
	}
}

// TestServe_WrongSecretKey: serve refuses to start when its secret key does
// not open the stored secrets, with exit 5 and a plain message.
func TestServe_WrongSecretKey(t *testing.T) {
	t.Parallel()
	db := "sqlite://" + filepath.Join(t.TempDir(), "wx.db")
	e := newEnv(t, db)
	sim := e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret)
	e.vars = append(e.vars, "WXNOTIFY_WECHAT_URL="+sim.url)
	e.mustRun(demoSecret+"\n", "app", "add", demoApp)
	wrong := newEnv(t, db) // another WXNOTIFY_SECRET_KEY
	_, errOut, code := wrong.run("", "serve", "--addr", "127.0.0.1:0")
	if code != 5 || !strings.Contains(errOut, "does not open the stored app secrets") || !strings.Contains(errOut, demoApp) {
		t.Fatalf("serve with a wrong key: exit %d, stderr %q; want 5 and a plain message", code, errOut)
	}
	if strings.Contains(errOut, demoSecret) {
		t.Fatal("the message holds the app secret")
	}
}

// TestExitCodes: a user's mistake never exits 1, and --json errors are JSON.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, "sqlite://"+filepath.Join(dir, "wx.db"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	badKey := &env{t: t, vars: append(slicesWithout(e.vars, "WXNOTIFY_SECRET_KEY="), "WXNOTIFY_SECRET_KEY=too-short")}
	for _, tt := range []struct {
		name string
		e    *env
		args []string
		want int
	}{
		{"UnknownCommand", e, []string{"bogus"}, 2},
		{"UnknownSubcommand", e, []string{"app", "bogus"}, 2},
		{"UnknownFlag", e, []string{"app", "list", "--bogus"}, 2},
		{"MissingConfigFile", e, []string{"app", "list", "--config", filepath.Join(dir, "none.toml")}, 3},
		{"MalformedSecretKey", badKey, []string{"token", "get", demoApp}, 5},
		{"PortInUse", e, []string{"serve", "--addr", ln.Addr().String()}, 3},
		{"BadFilter", e, []string{"messages", "ls", "--state", "bogus", "--api-key", "wxk_x"}, 2},
		{"NoAPIKey", e, []string{"messages", "ls", "--url", "http://127.0.0.1:1"}, 5},
		{"Unreachable", e, []string{"messages", "ls", "--url", "http://127.0.0.1:1", "--api-key", "wxk_x"}, 6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.e.t = t
			out, errOut, code := tt.e.run("", tt.args...)
			if code != tt.want {
				t.Fatalf("wxnotify %v: exit %d, want %d\n%s%s", tt.args, code, tt.want, out, errOut)
			}
			_, jsonErr, _ := tt.e.run("", append(tt.args, "--json")...)
			var body struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
				ExitCode int `json:"exit_code"`
			}
			if err := json.Unmarshal([]byte(jsonErr), &body); err != nil || body.ExitCode != tt.want || body.Error.Message == "" {
				t.Fatalf("--json error: %q (%v)", jsonErr, err)
			}
		})
	}

	t.Run("WaitTimeout", func(t *testing.T) {
		e := newEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "wx.db"))
		sim := e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret)
		e.vars = append(e.vars, "WXNOTIFY_WECHAT_URL="+sim.url)
		e.mustRun(demoSecret+"\n", "app", "add", demoApp)
		key := strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "t", "--app", demoApp))
		tpl := simCtl(t, sim.url, "/templates", map[string]any{"appid": demoApp, "title": "发货通知",
			"keywords": []map[string]string{{"key": "thing1", "name": "商品"}}})["template_id"].(string)
		api := e.start("serve", "--addr", "127.0.0.1:0").url
		e.mustRun("", "template", "sync")
		// Waiting for a credit nobody grants: the message cannot end in time.
		_, errOut, code := e.run("", "send", "--url", api, "--api-key", key, "--app", demoApp, "--openid", "oNOBODY",
			"--template", tpl, "--data", "thing1=x", "--wait-for-credit", "--wait", "--timeout", "1s")
		if code != 8 || !strings.Contains(errOut, "--timeout") {
			t.Fatalf("send --wait --timeout: exit %d, %q; want 8", code, errOut)
		}
	})
}

// TestVersion: a binary built from the git checkout names its commit, in
// --version, version --json, /healthz and the wxnotify_build_info metric.
func TestVersion(t *testing.T) {
	t.Parallel()
	if err := exec.Command("git", "rev-parse", "HEAD").Run(); err != nil {
		t.Skipf("not a git checkout, so the build has no revision to show: %v", err)
	}
	e := newEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "wx.db"))
	var b struct {
		Version, Revision, Time string
		Modified                bool
	}
	if err := json.Unmarshal([]byte(e.mustRun("", "version", "--json")), &b); err != nil || b.Time == "" || b.Version == "" {
		t.Fatalf("version --json: %+v (%v)", b, err)
	}
	// The revision is a commit of this checkout (HEAD when the test binary
	// was built; the lead may have committed since).
	if typ, err := exec.Command("git", "cat-file", "-t", b.Revision).Output(); err != nil || strings.TrimSpace(string(typ)) != "commit" {
		t.Fatalf("revision %q is not a commit of this repository (%v)", b.Revision, err)
	}
	rev := b.Revision
	if out := e.mustRun("", "--version"); !strings.Contains(out, rev[:12]) {
		t.Fatalf("--version: %q, want revision %s", out, rev[:12])
	}
	api := e.start("serve", "--addr", "127.0.0.1:0").url
	var health struct {
		Status string `json:"status"`
		Build  struct {
			Revision string `json:"revision"`
		} `json:"build"`
	}
	if getJSON(t, "GET", api+"/healthz", "", "", &health); health.Status != "ok" || health.Build.Revision != rev {
		t.Fatalf("/healthz: %+v", health)
	}
	metrics := scrape(t, api+"/metrics")
	if !regexp.MustCompile(`wxnotify_build_info\{[^}]*revision="` + rev + `"[^}]*\} 1`).MatchString(metrics) {
		t.Fatalf("no wxnotify_build_info with revision %s in:\n%s", rev, grepLines(metrics, "build_info"))
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
