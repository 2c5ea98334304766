package main_test

// End-to-end tests: they build the real binary once and run it as a user
// would, against the simulator started by the binary itself.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/internal/openapitest"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/internal/testdb"
)

var binary string

func TestMain(m *testing.M) {
	// Every request a test makes through net/http's default transport
	// (getJSON, http.Get, a Client without a Transport) is checked against
	// the OpenAPI document the server it reaches serves: a disagreement
	// fails that request, and with it the test (internal/openapitest).
	http.DefaultTransport = &openapitest.Transport{Base: http.DefaultTransport}
	dir, err := os.MkdirTemp("", "wxnotify-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "wxnotify")
	// -buildvcs=auto: stamp the git revision (TestVersion) even where
	// GOFLAGS turns it off; a tree without git still builds.
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build wxnotify: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	demoApp    = "wx0123456789abcdef"
	demoSecret = "e2e-app-secret-0123456789abcdef"
	otherApp   = "wxfedcba9876543210"
)

// env is the environment of one test's commands.
type env struct {
	t    *testing.T
	vars []string
	// dir is the commands' working directory. When it is "", they run in
	// the package's directory and do not look for a running dev there
	// (WXNOTIFY_DEV_DIR=none), which a developer's own dev would be.
	dir string
}

// environ is the environment of a command: vars, and no search for a dev
// unless the test chose the directory.
func (e *env) environ() []string {
	if e.dir != "" {
		return e.vars
	}
	return append(slices.Clone(e.vars), "WXNOTIFY_DEV_DIR=none")
}

func newEnv(t *testing.T, db string) *env {
	return &env{t: t, vars: []string{
		"WXNOTIFY_DB=" + db,
		"WXNOTIFY_SECRET_KEY=" + seal.GenerateKey(),
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"WXNOTIFY_DELIVERY_WEBHOOK_ALLOW_PRIVATE=true", // receivers are httptest servers on loopback
	}}
}

// run runs the binary to completion and returns stdout, stderr and the exit code.
func (e *env) run(stdin string, args ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = e.environ()
	cmd.Dir = e.dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// mustRun runs the binary and fails the test unless it exits 0.
func (e *env) mustRun(stdin string, args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(stdin, args...)
	if code != 0 {
		e.t.Fatalf("wxnotify %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// process is a long-running wxnotify command (sim, serve).
type process struct {
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	stderr bytes.Buffer
}

func (p *process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

type lockedWriter struct{ p *process }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

var urlPattern = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)

// start starts a long-running command and waits for it to print its URL.
func (e *env) start(args ...string) *process {
	e.t.Helper()
	p := &process{cmd: exec.Command(binary, args...)}
	p.cmd.Env = e.environ()
	p.cmd.Dir = e.dir
	p.cmd.Stderr = lockedWriter{p}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u := urlPattern.FindString(sc.Text()); u != "" {
				select {
				case found <- u:
				default:
				}
			}
		}
	}()
	select {
	case p.url = <-found:
	case <-time.After(30 * time.Second):
		e.t.Fatalf("wxnotify %v printed no URL; stderr: %s", args, p.Stderr())
	}
	return p
}

func getJSON(t *testing.T, method, url, auth, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, b, err)
		}
	}
	return resp.StatusCode
}

type wxResult struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// TestSim checks the standalone simulator answers like WeChat.
func TestSim(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	sim := e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret)

	var r wxResult
	getJSON(t, "GET", sim.url+"/cgi-bin/token?grant_type=client_credential&appid=wxnotregistered00000&secret=x", "", "", &r)
	if r.ErrCode != 40013 {
		t.Errorf("token with a bad appid: %+v, want errcode 40013", r)
	}
	for _, path := range []string{"/cgi-bin/message/subscribe/send", "/cgi-bin/message/wxopen/template/send"} {
		r = wxResult{}
		getJSON(t, "POST", sim.url+path+"?access_token=bogus", "", `{"touser":"o1","template_id":"t","data":{}}`, &r)
		if r.ErrCode != 40001 && r.ErrCode != 40014 && r.ErrCode != 42001 {
			t.Errorf("%s with a bogus token: %+v, want a 40001-family errcode", path, r)
		}
	}
	r = wxResult{}
	getJSON(t, "GET", sim.url+"/cgi-bin/token?grant_type=client_credential&appid="+demoApp+"&secret="+demoSecret, "", "", &r)
	if r.ErrCode != 0 {
		t.Errorf("token for the registered app: %+v", r)
	}
}

// TestMigrateEmptyDirectory: migrate creates the database in a new directory.
func TestMigrateEmptyDirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "new", "dir", "wx.db")
	e := newEnv(t, "")
	out := e.mustRun("", "migrate", "--db", "sqlite://"+path)
	if !strings.Contains(out, "up to date") {
		t.Fatalf("migrate said %q", out)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := e.run("", "migrate", "--db", "mysql://x"); code == 0 || !strings.Contains(errOut, "sqlite://") {
		t.Fatalf("unsupported DSN: exit %d, stderr %q", code, errOut)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	for _, args := range [][]string{{"token", "--help"}, {"app", "--help"}, {"--help"}} {
		if out := e.mustRun("", args...); !strings.Contains(out, "Usage") {
			t.Errorf("%v: no usage in %q", args, out)
		}
	}
	if _, _, code := e.run("", "app", "add"); code != 2 {
		t.Errorf("missing argument: exit %d, want 2", code)
	}
}

// TestAppRegistry: secrets are read from stdin, checked with WeChat,
// sealed, never printed; a wrong secret, a missing or wrong key is a clear
// error.
func TestAppRegistry(t *testing.T) {
	t.Parallel()
	db := "sqlite://" + filepath.Join(t.TempDir(), "wx.db")
	e := newEnv(t, db)
	sim := e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret)
	e.vars = append(e.vars, "WXNOTIFY_WECHAT_URL="+sim.url)
	if _, errOut, code := e.run("not-the-secret\n", "app", "add", demoApp); code != 3 || !strings.Contains(errOut, "secret") || strings.Contains(errOut, "not-the-secret") {
		t.Fatalf("wrong secret: exit %d %q, want 3 naming the secret (not printing it)", code, errOut)
	}
	out := e.mustRun(demoSecret+"\n", "app", "add", demoApp, "--name", "shop")
	if strings.Contains(out, demoSecret) {
		t.Fatal("secret printed")
	}
	if _, errOut, code := e.run(demoSecret+"\n", "app", "add", demoApp); code != 3 || !strings.Contains(errOut, "already") {
		t.Fatalf("duplicate app: exit %d %q", code, errOut)
	}
	if _, errOut, code := e.run("s\n", "app", "add", "wx123"); code != 3 || !strings.Contains(errOut, "appid") {
		t.Fatalf("bad appid: exit %d %q", code, errOut)
	}
	list := e.mustRun("", "app", "list")
	if !strings.Contains(list, demoApp) || !strings.Contains(list, "shop") || strings.Contains(list, demoSecret) {
		t.Fatalf("list=%q", list)
	}
	// The database file holds no clear secret.
	path := strings.TrimPrefix(db, "sqlite://")
	for _, f := range []string{path, path + "-wal"} {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(demoSecret)) {
			t.Fatalf("secret in clear in %s", f)
		}
	}
	noKey := &env{t: t, vars: []string{"WXNOTIFY_DB=" + db, "PATH=" + os.Getenv("PATH")}}
	if _, errOut, code := noKey.run("x\n", "app", "add", otherApp); code != 5 || !strings.Contains(errOut, "WXNOTIFY_SECRET_KEY") {
		t.Fatalf("no key: exit %d %q", code, errOut)
	}
	wrongKey := newEnv(t, db)
	wrongKey.vars = append(wrongKey.vars, "WXNOTIFY_WECHAT_URL=http://127.0.0.1:1")
	if _, errOut, code := wrongKey.run("", "token", "get", demoApp); code != 5 || !strings.Contains(errOut, "different secret key") {
		t.Fatalf("wrong key: exit %d %q", code, errOut)
	}
	e.mustRun("", "app", "rm", demoApp)
	if _, _, code := e.run("", "app", "rm", demoApp); code != 4 {
		t.Fatalf("rm twice: exit %d, want 4", code)
	}
}

// TestServeTokenEndpoint runs the service (twice, as two instances, on
// PostgreSQL when configured) against the simulator: other services get the
// token over HTTP with an API key scoped to their app, WeChat is asked once,
// and nothing secret reaches the logs.
func TestServeTokenEndpoint(t *testing.T) {
	t.Parallel()
	dbs := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "wx.db") },
	}
	if os.Getenv(testdb.PostgresEnv) != "" {
		dbs["postgres"] = func(t *testing.T) string { return testdb.PostgresSchemaDSN(t) }
	}
	for name, newDB := range dbs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, newDB(t))
			sim := e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret, "--app", otherApp+":other-secret")
			e.vars = append(e.vars, "WXNOTIFY_WECHAT_URL="+sim.url)
			e.mustRun(demoSecret+"\n", "app", "add", demoApp)
			e.mustRun("other-secret\n", "app", "add", otherApp)
			key := strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "orders", "--app", demoApp))

			instances := []*process{e.start("serve", "--addr", "127.0.0.1:0"), e.start("serve", "--addr", "127.0.0.1:0")}
			var tokens []string
			for _, p := range instances {
				var got struct {
					AccessToken string `json:"access_token"`
					ExpiresIn   int    `json:"expires_in"`
				}
				if code := getJSON(t, "GET", p.url+"/v1/apps/"+demoApp+"/access_token", key, "", &got); code != 200 {
					t.Fatalf("token endpoint: status %d", code)
				}
				if got.AccessToken == "" || got.ExpiresIn < 7000 {
					t.Fatalf("token response %+v", got)
				}
				tokens = append(tokens, got.AccessToken)
			}
			if tokens[0] != tokens[1] {
				t.Fatal("two instances serve different tokens")
			}
			if code := getJSON(t, "GET", instances[0].url+"/v1/apps/"+otherApp+"/access_token", key, "", nil); code != 403 {
				t.Fatalf("other app's token with a key for %s: status %d, want 403", demoApp, code)
			}
			if code := getJSON(t, "GET", instances[0].url+"/v1/apps/"+demoApp+"/access_token", "wxk_bad_key", "", nil); code != 401 {
				t.Fatalf("bad key: status %d, want 401", code)
			}
			// The CLI reads the same token; WeChat was asked once in all by
			// the instances, once more by `app add` checking the secret.
			if got := strings.TrimSpace(e.mustRun("", "token", "get", demoApp)); got != tokens[0] {
				t.Fatal("token get differs from the served token")
			}
			var calls map[string]any
			getJSON(t, "GET", sim.url+"/sim/calls?path=/cgi-bin/stable_token&appid="+demoApp, "", "", &calls)
			if n, _ := calls["count"].(float64); n != 2 {
				t.Fatalf("stable_token calls=%v, want exactly 2 (the check and one fetch)", calls)
			}
			// Exactly one of the two instances fetched, and its metrics say so.
			var scraped string
			for _, p := range instances {
				resp, err := http.Get(p.url + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				scraped += string(b)
			}
			if n := strings.Count(scraped, `wxnotify_token_refreshes_total{appid="`+demoApp+`",result="ok"} 1`); n != 1 {
				t.Fatalf("token refresh metric found %d times, want once across the instances", n)
			}
			status := e.mustRun("", "token", "status")
			if !strings.Contains(status, demoApp) || !strings.Contains(status, "valid") || strings.Contains(status, tokens[0]) {
				t.Fatalf("token status=%q", status)
			}
			for _, p := range instances {
				logs := p.Stderr()
				for _, secret := range []string{demoSecret, "other-secret", tokens[0], key} {
					if strings.Contains(logs, secret) {
						t.Fatalf("a secret or token reached the logs:\n%s", logs)
					}
				}
			}
		})
	}
}
