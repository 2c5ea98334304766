//go:build linux

package main_test

// Packaging: no container engine runs where the tests run, so this proves
// what the image needs instead. It builds the binary as the Dockerfile does
// and starts the Dockerfile's ENTRYPOINT, with its ENV and USER, in an empty
// root holding only that binary, CA certificates, the secret key and the
// VOLUME directory; the HEALTHCHECK command must pass there. The systemd
// unit must pass `systemd-analyze verify` and `security`.

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/internal/seal"
)

// EnvTestPackaging set to "require" (as .ci/run does) makes a packaging test
// fail, not skip, when the machine lacks what it needs: CI must never pass
// by skipping the packaging proof.
const EnvTestPackaging = "WXNOTIFY_TEST_PACKAGING"

func requirePackaging(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv(EnvTestPackaging) == "require" {
		t.Fatalf("%s, and %s=require", what, EnvTestPackaging)
	}
	t.Skipf("%s (%s=require makes this a failure)", what, EnvTestPackaging)
}

func TestPackage_ImageInEmptyRoot(t *testing.T) {
	t.Parallel()
	requirePackaging(t, os.Geteuid() == 0, "chroot(2) needs root")
	df := readDockerfile(t, "../../Dockerfile")

	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil { // the image's user must reach its files
		t.Fatal(err)
	}
	binPath := df.copyDest(t, "/out/wxnotify")
	bin := filepath.Join(root, binPath)
	df.build(t, bin)
	assertStatic(t, bin)

	// CA certificates, where Go and distroless keep them.
	const caFile = "/etc/ssl/certs/ca-certificates.crt"
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("CA certificates of this machine (package ca-certificates): %v", err)
	}
	writeRootFile(t, root, caFile, ca, 0o644)

	uid, gid := df.user(t)
	volume := df.one(t, "VOLUME")
	mkdirMode(t, filepath.Join(root, volume), 0o700)
	if err := os.Chown(filepath.Join(root, volume), uid, gid); err != nil {
		t.Fatal(err)
	}
	env := df.env
	keyFile := env["WXNOTIFY_SECRET_KEY_FILE"]
	if keyFile == "" {
		t.Fatal("Dockerfile: no ENV WXNOTIFY_SECRET_KEY_FILE: where does the image read its secret key?")
	}
	writeRootFile(t, root, keyFile, []byte(seal.GenerateKey()+"\n"), 0o400) // as `wxnotify keygen > file`, mounted
	if err := os.Chown(filepath.Join(root, keyFile), uid, gid); err != nil {
		t.Fatal(err)
	}

	// The image listens on EXPOSE's port on every interface; here on a free
	// loopback port.
	_, port, err := net.SplitHostPort(env["WXNOTIFY_HTTP_ADDR"])
	if err != nil || port != df.one(t, "EXPOSE") {
		t.Fatalf("Dockerfile: ENV WXNOTIFY_HTTP_ADDR=%q does not listen on EXPOSE %s", env["WXNOTIFY_HTTP_ADDR"], df.one(t, "EXPOSE"))
	}
	addr := freeLoopbackAddr(t)
	env["WXNOTIFY_HTTP_ADDR"] = addr
	var environ []string // nothing but the image's ENV: no PATH, no HOME
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	inRoot := func(ctx context.Context, argv []string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = environ
		cmd.Dir = df.one(t, "WORKDIR")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Chroot:     root,
			Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
		}
		return cmd
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	serve := inRoot(ctx, append(df.jsonArray(t, "ENTRYPOINT"), df.jsonArray(t, "CMD")...))
	var out logBuffer // serve's stderr: its log
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	serve.Stderr = &out
	if err := serve.Start(); err != nil {
		t.Fatalf("start %v in the empty root: %v", serve.Args, err)
	}
	exited := make(chan error, 1)
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() { // serve prints its URL once it listens
			if strings.Contains(sc.Text(), addr) {
				close(listening)
				break
			}
		}
		io.Copy(io.Discard, stdout)
		exited <- serve.Wait()
	}()
	t.Cleanup(func() { serve.Process.Kill() })
	select {
	case <-listening:
	case err := <-exited:
		t.Fatalf("serve exited in the empty root before listening: %v\n%s", err, out.String())
	case <-ctx.Done():
		t.Fatalf("serve did not listen on %s\n%s", addr, out.String())
	}

	// Ready: the database on the volume, the secret key and the rest.
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v\n%s", err, out.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if status := resp.StatusCode; status != http.StatusOK {
		t.Fatalf("GET /readyz: %d %s, want 200\n%s", status, body, out.String())
	}
	t.Logf("GET /readyz in the empty root: 200 %s", body)

	// The HEALTHCHECK, as Docker runs it: in the container, as its user.
	hc := df.healthcheck(t)
	if got, err := inRoot(ctx, hc).CombinedOutput(); err != nil {
		t.Fatalf("HEALTHCHECK %v: %v\n%s", hc, err, got)
	} else {
		t.Logf("HEALTHCHECK %v: exit 0, %s", hc, bytes.TrimSpace(got))
	}

	// docker stop: SIGTERM, then a clean exit.
	serve.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not exit within 30s of SIGTERM\n%s", out.String())
	}
	got, err := inRoot(ctx, hc).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 6 {
		t.Fatalf("HEALTHCHECK with serve stopped: %v, want exit 6 (unavailable)\n%s", err, got)
	}

	// It wrote its database on the volume, and nothing anywhere else.
	if _, err := os.Stat(filepath.Join(root, volume, "wxnotify.db")); err != nil {
		t.Errorf("database on the volume: %v", err)
	}
	want := []string{binPath, caFile, keyFile}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel := "/" + strings.TrimPrefix(p, root+"/")
		if err != nil || d.IsDir() || slices.Contains(want, rel) || strings.HasPrefix(rel, volume+"/") {
			return err
		}
		t.Errorf("serve wrote %s, outside its volume %s", rel, volume)
		return nil
	})
}

func TestPackage_SystemdUnit(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	requirePackaging(t, err == nil, "no systemd-analyze (Debian package systemd)")
	unit, err := os.ReadFile("../../etc/systemd/wxnotify.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify wants ExecStart's binary to exist: the copy runs this build.
	const execStart = "ExecStart=/usr/local/bin/wxnotify serve"
	if !bytes.Contains(unit, []byte("\n"+execStart+"\n")) {
		t.Fatalf("the unit has no line %q", execStart)
	}
	copied := filepath.Join(t.TempDir(), "wxnotify.service")
	writeRootFile(t, "/", copied, bytes.Replace(unit, []byte(execStart), []byte("ExecStart="+binary+" serve"), 1), 0o644)

	for _, args := range [][]string{
		{"verify", copied},
		// The exposure score: 1.1 today; a change that weakens it fails here.
		{"security", "--offline=yes", "--threshold=20", copied},
	} {
		cmd := exec.Command(analyze, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if args[0] == "verify" && out.Len() > 0 {
			err = errors.New("it printed warnings: an unknown key or a bad value exits 0")
		}
		if err != nil {
			t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	}
}

// dockerfile is the little of a Dockerfile this test reads: the final
// stage's instructions, its ENV, and the go build line of any stage.
type dockerfile struct {
	final   []instruction
	env     map[string]string
	gobuild []string // the words of the go build command, after its VAR=value words
}

type instruction struct{ cmd, args string }

// logBuffer is a bytes.Buffer that a process writes while a test reads.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func readDockerfile(t *testing.T, path string) *dockerfile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	df := &dockerfile{env: map[string]string{}}
	var stage []instruction
	var cont string
	for line := range strings.SplitSeq(string(b), "\n") {
		if l := strings.TrimSpace(line); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, cont = cont+line, ""
		cmd, args, _ := strings.Cut(strings.TrimSpace(line), " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stage = nil
		}
		if in.cmd == "RUN" && strings.Contains(in.args, "go build ") {
			// RUN --mount=… A=1 go build … && more: the go build command.
			var c []string
			for _, w := range append(dockerWords(t, in.args), "&&") {
				switch {
				case w == "&&":
					if slices.Contains(c, "build") {
						df.gobuild = c
					}
					c = nil
				case !strings.HasPrefix(w, "--mount="):
					c = append(c, w)
				}
			}
		}
		stage = append(stage, in)
	}
	df.final = stage
	for _, in := range stage {
		if in.cmd != "ENV" {
			continue
		}
		for _, kv := range strings.Fields(in.args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || strings.ContainsAny(v, `"'$`) {
				t.Fatalf("Dockerfile: ENV %q: this test reads only plain KEY=value", kv)
			}
			df.env[k] = v
		}
	}
	return df
}

// one returns the argument of the final stage's only instruction cmd.
func (df *dockerfile) one(t *testing.T, cmd string) string {
	t.Helper()
	var found []string
	for _, in := range df.final {
		if in.cmd == cmd {
			found = append(found, in.args)
		}
	}
	if len(found) != 1 {
		t.Fatalf("Dockerfile: the final stage has %d %s, want 1", len(found), cmd)
	}
	return found[0]
}

func (df *dockerfile) jsonArray(t *testing.T, cmd string) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(df.one(t, cmd)), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("Dockerfile: %s %s: want the exec form, a JSON array (an image without a shell): %v", cmd, df.one(t, cmd), err)
	}
	return argv
}

func (df *dockerfile) healthcheck(t *testing.T) []string {
	t.Helper()
	hc := df.one(t, "HEALTHCHECK")
	_, cmd, ok := strings.Cut(hc, "CMD ")
	var argv []string
	if err := json.Unmarshal([]byte(cmd), &argv); !ok || err != nil || len(argv) == 0 {
		t.Fatalf("Dockerfile: HEALTHCHECK %s: want CMD in the exec form: %v", hc, err)
	}
	return argv
}

// copyDest returns where the final stage copies src from another stage.
func (df *dockerfile) copyDest(t *testing.T, src string) string {
	t.Helper()
	for _, in := range df.final {
		if f := strings.Fields(in.args); in.cmd == "COPY" && len(f) >= 3 && f[len(f)-2] == src {
			return f[len(f)-1]
		}
	}
	t.Fatalf("Dockerfile: the final stage copies no %s", src)
	return ""
}

func (df *dockerfile) user(t *testing.T) (uid, gid int) {
	t.Helper()
	u, g, _ := strings.Cut(df.one(t, "USER"), ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil || uid == 0 {
		t.Fatalf("Dockerfile: USER %s: want a numeric uid:gid other than root (an image without /etc/passwd)", df.one(t, "USER"))
	}
	return uid, gid
}

// build runs the Dockerfile's go build line, writing the binary to out.
func (df *dockerfile) build(t *testing.T, out string) {
	t.Helper()
	words := slices.Clone(df.gobuild)
	var env []string
	for len(words) > 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(words[0]) {
		env, words = append(env, words[0]), words[1:]
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" || !slices.Contains(env, "CGO_ENABLED=0") {
		t.Fatalf("Dockerfile: %q: want CGO_ENABLED=0 go build …", df.gobuild)
	}
	i := slices.Index(words, "-o")
	if i < 0 || i+1 >= len(words) {
		t.Fatalf("Dockerfile: %q: no -o", df.gobuild)
	}
	words[i+1] = out
	mkdirMode(t, filepath.Dir(out), 0o755)
	cmd := exec.Command(words[0], words[1:]...)
	cmd.Dir = "../.." // the Dockerfile's WORKDIR, the module root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(df.gobuild, " "), err, b)
	}
}

// dockerWords splits a Dockerfile RUN line into words, with single and
// double quotes.
func dockerWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// assertStatic fails unless bin needs no dynamic loader, no shared library
// and no cgo, and records the commit it was built from.
func assertStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("%s is dynamically linked (program header %v)", bin, p.Type)
		}
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings CGO_ENABLED=%q -trimpath=%q, want 0 and true", settings["CGO_ENABLED"], settings["-trimpath"])
	}
	if _, err := os.Stat("../../.git"); err == nil && settings["vcs.revision"] == "" {
		t.Errorf("no vcs.revision in the build settings (-buildvcs): %v", bi.Settings)
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func mkdirMode(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

// writeRootFile writes root+name, making its directories 0755.
func writeRootFile(t *testing.T, root, name string, data []byte, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, name)
	mkdirMode(t, filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
}
