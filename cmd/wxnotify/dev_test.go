package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/internal/testdb"
)

// devProcess is a running `wxnotify dev` and what its banner said.
type devProcess struct {
	p        *process
	banner   string
	api, sim string
	key      string
	curl     string // the copy-paste command, as printed
}

var (
	devAPIPattern = regexp.MustCompile(`(?m)^  API +(http://\S+)`)
	devSimPattern = regexp.MustCompile(`(?m)^  simulator +(http://\S+)`)
	devKeyPattern = regexp.MustCompile(`(?m)^  API key +(wxk_\S+)`)
	// The curl runs from its first line to the -d line.
	devCurlPattern = regexp.MustCompile(`(?ms)^curl -sS -X POST .*?^  -d '[^\n]*'$`)
)

// startDev runs `wxnotify dev` on free ports in dir and reads its banner,
// which ends with the line naming the simulator's inbox.
func startDev(t *testing.T, e *env, dir string, args ...string) *devProcess {
	t.Helper()
	args = append([]string{"dev", "--addr", "127.0.0.1:0", "--sim-addr", "127.0.0.1:0", "--dir", dir}, args...)
	p := &process{cmd: exec.Command(binary, args...)}
	p.cmd.Env = e.environ()
	p.cmd.Dir = e.dir
	p.cmd.Stderr = lockedWriter{p}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &devProcess{p: p}
	t.Cleanup(func() { d.stop(t) })
	banner := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "and in the simulator's inbox") {
				banner <- b.String()
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case d.banner = <-banner:
	case <-time.After(60 * time.Second):
		t.Fatalf("wxnotify dev printed no banner; stderr: %s", p.Stderr())
	}
	for _, f := range []struct {
		re  *regexp.Regexp
		dst *string
	}{{devAPIPattern, &d.api}, {devSimPattern, &d.sim}, {devKeyPattern, &d.key}} {
		m := f.re.FindStringSubmatch(d.banner)
		if m == nil {
			t.Fatalf("banner lacks %v:\n%s", f.re, d.banner)
		}
		*f.dst = m[1]
	}
	if d.curl = devCurlPattern.FindString(d.banner); d.curl == "" {
		t.Fatalf("banner has no curl:\n%s", d.banner)
	}
	return d
}

// stop interrupts dev as Ctrl-C does and waits for a clean exit.
func (d *devProcess) stop(t *testing.T) {
	t.Helper()
	if d.p.cmd.ProcessState != nil {
		return
	}
	d.p.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- d.p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("wxnotify dev did not exit cleanly: %v\nstderr: %s", err, d.p.Stderr())
		}
	case <-time.After(20 * time.Second):
		d.p.cmd.Process.Kill()
		t.Errorf("wxnotify dev did not stop on interrupt")
	}
}

// runCurl executes the printed command as a user pasting it would: with
// the real curl through sh when there is one, else by replaying its method,
// URL, headers and body with net/http.
func runCurl(t *testing.T, command string) string {
	t.Helper()
	if _, err := exec.LookPath("curl"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "sh", "-c", command).Output()
		if err != nil {
			t.Fatalf("%s\n: %v", command, err)
		}
		return string(out)
	}
	t.Log("no curl on PATH: replaying the command with net/http")
	return replayCurl(t, command)
}

// replayCurl sends the request a printed curl command describes, with
// net/http: method, URL, headers and body.
func replayCurl(t *testing.T, command string) string {
	t.Helper()
	args := shellWords(t, strings.ReplaceAll(command, "\\\n", " "))
	req := struct {
		method, url, body string
		headers           [][2]string
	}{method: "GET"}
	for i := 1; i < len(args); i++ {
		switch a := args[i]; a {
		case "-sS":
		case "-X":
			i++
			req.method = args[i]
		case "-H":
			i++
			k, v, _ := strings.Cut(args[i], ":")
			req.headers = append(req.headers, [2]string{k, strings.TrimSpace(v)})
		case "-d":
			i++
			req.body = args[i]
		default:
			req.url = a
		}
	}
	r, err := http.NewRequest(req.method, req.url, strings.NewReader(req.body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range req.headers {
		r.Header.Set(h[0], h[1])
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// shellWords splits a command line with single-quoted words, the only
// quoting the printed command uses.
func shellWords(t *testing.T, s string) []string {
	var words []string
	var cur strings.Builder
	in, any := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			in, any = !in, true
		case !in && (r == ' ' || r == '\t' || r == '\n'):
			if any {
				words = append(words, cur.String())
				cur.Reset()
				any = false
			}
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if in {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if any {
		words = append(words, cur.String())
	}
	return words
}

// sendPrintedCurl runs the banner's curl with run and returns the message id.
func (d *devProcess) sendPrintedCurl(t *testing.T, run func(*testing.T, string) string) int64 {
	t.Helper()
	out := run(t, d.curl)
	var r struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.ID == 0 {
		t.Fatalf("the printed curl answered %q (%v)\n%s", out, err, d.curl)
	}
	return r.ID
}

// TestDev runs the README's first command as a new user would: `wxnotify
// dev` with nothing set up, then the curl it prints. The message reaches the
// simulator's inbox and reads back as delivered. Restarted on the same
// directory, dev keeps its database, key and API key, and sending works again.
func TestDev(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "dev")
	// No WXNOTIFY_SECRET_KEY, no password, no database: dev makes its own.
	e := &env{t: t, vars: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}}
	d := startDev(t, e, dir)

	for _, want := range []string{d.api + "/dashboard/", "operator password: ", d.sim + "/sim/", "wx0000000000000dev", "(new)"} {
		if !strings.Contains(d.banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, d.banner)
		}
	}
	for _, f := range []string{"secret.key", "admin-password", "dev.json", "wxnotify.db"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("dev dir: %v", err)
		}
		if f != "wxnotify.db" && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	password, _ := os.ReadFile(filepath.Join(dir, "admin-password"))
	if !strings.Contains(d.banner, "operator password: "+strings.TrimSpace(string(password))) {
		t.Errorf("banner does not show the generated password")
	}

	// The dashboard opens with the printed password.
	if code := getJSON(t, "GET", d.api+"/dashboard/", "", "", nil); code == http.StatusNotFound {
		t.Log("the dashboard is disabled in this build: instance.go does not pass WXNOTIFY_ADMIN_PASSWORD on")
	} else {
		for pw, want := range map[string]int{strings.TrimSpace(string(password)): 200, "wrong": 401} {
			req, _ := http.NewRequest("POST", d.api+"/dashboard/login", strings.NewReader(fmt.Sprintf(`{"password":%q}`, pw)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(wxhttp.DashboardCSRFHeader, "1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("dashboard login with the %s password: %d, want %d", map[bool]string{true: "printed", false: "wrong"}[want == 200], resp.StatusCode, want)
			}
		}
	}

	id := d.sendPrintedCurl(t, runCurl)
	m := waitMessage(t, d.api, d.key, id)
	if m.State != "delivered" || m.MsgID == "" {
		t.Fatalf("message %d: %+v", id, m)
	}
	var inbox []struct {
		MsgID      uint64            `json:"msgid"`
		TemplateID string            `json:"template_id"`
		Data       map[string]string `json:"data"`
	}
	getJSON(t, "GET", d.sim+"/sim/inbox?appid=wx0000000000000dev&openid=oDEV00000000000000000demo001", "", "", &inbox)
	if len(inbox) != 1 || fmt.Sprint(inbox[0].MsgID) != m.MsgID || inbox[0].Data["thing2"] == "" {
		t.Fatalf("sim inbox %+v, want the message %s", inbox, m.MsgID)
	}
	// The curl names the template by its catalog alias; WeChat got the id.
	if !strings.Contains(d.curl, `"template_id":"order_shipped"`) || inbox[0].TemplateID == "order_shipped" || !strings.Contains(d.banner, inbox[0].TemplateID) {
		t.Fatalf("template %q sent for the curl:\n%s", inbox[0].TemplateID, d.curl)
	}
	d.stop(t)
	if logs := d.p.Stderr(); strings.Contains(logs, d.key) || strings.Contains(logs, string(password)) {
		t.Fatalf("the API key or password reached the logs:\n%s", logs)
	}

	// Again on the same directory: the same API key works, the first
	// message is still there, and a new send is delivered (the simulator
	// restored its snapshot: the same token, templates and credits;
	// TestDev_RestartKeepsSimulator checks a message queued across it).
	d2 := startDev(t, e, dir)
	if d2.key != d.key || !strings.Contains(d2.banner, "kept from the last run") {
		t.Fatalf("API key %q after restart, want %q kept:\n%s", d2.key, d.key, d2.banner)
	}
	if again := waitMessage(t, d2.api, d2.key, id); again.State != "delivered" {
		t.Fatalf("first message after restart: %+v", again)
	}
	id2 := d2.sendPrintedCurl(t, replayCurl) // the fallback when CI has no curl
	if m2 := waitMessage(t, d2.api, d2.key, id2); m2.State != "delivered" {
		t.Fatalf("message after restart: %+v", m2)
	}
	var apps struct {
		Apps []string `json:"apps"`
	}
	getJSON(t, "GET", d2.sim+"/sim/apps", "", "", &apps)
	if len(apps.Apps) != 1 {
		t.Fatalf("sim apps %v", apps.Apps)
	}
}

// TestServeConfigFile: serve takes its settings from --config, a flag
// overrides the file, and a bad file stops it with the explanation.
func TestServeConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "wx.toml")
	conf := fmt.Sprintf("[database]\ndsn = %q\n[http]\naddr = \"127.0.0.1:1\"\n[delivery]\nconcurrency = 8\n",
		"sqlite://"+filepath.Join(dir, "wx.db"))
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "")
	e.vars = slicesWithout(e.vars, "WXNOTIFY_DB=")
	p := e.start("serve", "--config", path, "--addr", "127.0.0.1:0")
	if code := getJSON(t, "GET", p.url+"/readyz", "", "", nil); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "wx.db")); err != nil {
		t.Fatalf("database.dsn from the file not used: %v", err)
	}

	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[delivery]\nconcurency = 8\n"), 0o600)
	if _, errOut, code := e.run("", "serve", "--config", bad); code != 3 || !strings.Contains(errOut, "did you mean delivery.concurrency") {
		t.Fatalf("serve with a bad file: exit %d %q", code, errOut)
	}
}

func slicesWithout(vars []string, prefix string) []string {
	var out []string
	for _, v := range vars {
		if !strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}

// TestDevPostgres: dev on PostgreSQL (--db) sets up and delivers the same.
func TestDevPostgres(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.PostgresEnv) == "" {
		t.Skip(testdb.PostgresEnv + " not set")
	}
	e := &env{t: t, vars: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}}
	d := startDev(t, e, filepath.Join(t.TempDir(), "dev"), "--db", testdb.PostgresSchemaDSN(t))
	if !strings.Contains(d.banner, "(new)") {
		t.Fatalf("banner:\n%s", d.banner)
	}
	id := d.sendPrintedCurl(t, replayCurl)
	if m := waitMessage(t, d.api, d.key, id); m.State != "delivered" {
		t.Fatalf("message %d: %+v", id, m)
	}
}
