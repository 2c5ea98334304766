package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// update rewrites the golden files: go test ./cmd/wxnotify -run Config -update
var update = updateFlag()

func updateFlag() *bool {
	if f := flag.Lookup("update"); f != nil {
		v := f.Value.String() == "true"
		return &v
	}
	return flag.Bool("update", false, "rewrite golden files")
}

// runCLI runs a command line in-process with the given environment.
func runCLI(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, &Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return vars[k] }})
	return out.String(), errOut.String(), code
}

// TestConfigCheck runs `config check` on every fixture and compares what
// it says with testdata/config/NAME.golden.
func TestConfigCheck(t *testing.T) {
	t.Parallel()
	fixtures, err := filepath.Glob("testdata/config/*.toml")
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	wantCode := map[string]int{"good": 0}
	for _, path := range fixtures {
		name := strings.TrimSuffix(filepath.Base(path), ".toml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runCLI(t, nil, "config", "check", "--config", path)
			want, ok := wantCode[name]
			if !ok {
				want = exitInvalid
			}
			if code != want {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, want, stdout, stderr)
			}
			got := fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", code, stdout, stderr)
			golden := strings.TrimSuffix(path, ".toml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(b) {
				t.Fatalf("config check %s:\n%s\nwant (%s):\n%s", path, got, golden, b)
			}
		})
	}
}

// TestConfigCheck_Explains checks the promises of each explanation, apart
// from the exact wording in the golden files.
func TestConfigCheck_Explains(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		fixture string
		want    []string
		notWant []string
	}{
		{name: "UnknownKey", fixture: "unknown_key", want: []string{"line 3", "delivery.concurency", "did you mean delivery.concurrency?", "did you mean sessions?"}},
		{name: "BadType", fixture: "bad_type", want: []string{"line 3", "delivery.concurrency", "wrong type"}},
		{name: "BadDuration", fixture: "bad_duration", want: []string{"line 2", "token.refresh_ahead", "not a duration", `"30s"`}},
		{name: "BareNumberDuration", fixture: "bare_duration", want: []string{"line 2", "delivery.lease", "quoted duration"}},
		{name: "OutOfRange", fixture: "out_of_range", want: []string{"delivery.concurrency = 0", "between 1 and 10000", "delivery.max_backoff", "token.refresh_ahead"}},
		{name: "SecretKey", fixture: "secret", want: []string{"line 4", "WXNOTIFY_SECRET_KEY"}, notWant: []string{"c2VjcmV0"}},
		{name: "AdminPassword", fixture: "admin_password", want: []string{"WXNOTIFY_ADMIN_PASSWORD"}, notWant: []string{"hunter2"}},
		{name: "DSNPassword", fixture: "dsn_password", want: []string{"database.dsn", "WXNOTIFY_DB"}, notWant: []string{"hunter2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runCLI(t, nil, "config", "check", "--config", "testdata/config/"+tt.fixture+".toml")
			if code != exitInvalid || stdout != "" {
				t.Fatalf("exit %d, stdout %q; want exit %d and nothing on stdout", code, stdout, exitInvalid)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(stderr, w) {
					t.Errorf("stderr shows %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestLoadConfig_Precedence(t *testing.T) {
	t.Parallel()
	const file = "testdata/config/good.toml" // concurrency 64, lease 45s, addr 127.0.0.1:9090
	env := map[string]string{
		"WXNOTIFY_DELIVERY_CONCURRENCY": "32",
		"WXNOTIFY_DELIVERY_LEASE":       "50s",
	}
	flags := map[string]string{"concurrency": "16"}
	lc, err := LoadConfig(configInput{
		Path:   file,
		Getenv: func(k string) string { return env[k] },
		Flag:   func(name string) (string, bool) { v, ok := flags[name]; return v, ok },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key       string
		got, want any
		source    string
	}{
		{"delivery.concurrency", lc.Delivery.Concurrency, 16, "flag --concurrency"},
		{"delivery.lease", lc.Delivery.Lease.Duration, 50 * time.Second, "env WXNOTIFY_DELIVERY_LEASE"},
		{"http.addr", lc.HTTP.Addr, "127.0.0.1:9090", "file line 9"},
		{"delivery.app_rate", lc.Delivery.AppRate, 200.5, "file line 22"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s=%v, want %v", tt.key, tt.got, tt.want)
		}
		if got := lc.Source[tt.key]; got != tt.source {
			t.Errorf("%s from %q, want %q", tt.key, got, tt.source)
		}
	}

	// Nothing set: the defaults.
	lc, err = LoadConfig(configInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lc.Config, NewConfig()) {
		t.Fatalf("no file, no env: %+v, want the defaults", lc.Config)
	}
	if got := lc.Source["delivery.concurrency"]; got != "default" {
		t.Fatalf("source %q, want default", got)
	}
}

func TestLoadConfig_BadEnvAndFlag(t *testing.T) {
	t.Parallel()
	env := map[string]string{"WXNOTIFY_DELIVERY_LEASE": "abc", "WXNOTIFY_SESSIONS_BURST": "many"}
	_, err := LoadConfig(configInput{
		Getenv: func(k string) string { return env[k] },
		Flag: func(name string) (string, bool) {
			if name == "app-rate" {
				return "-1", true
			}
			return "", false
		},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"from WXNOTIFY_DELIVERY_LEASE", `"abc" is not a duration`, "from WXNOTIFY_SESSIONS_BURST", "delivery.app_rate = -1 (flag --app-rate)"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

// TestConfigCheck_EnvFile: WXNOTIFY_CONFIG names the file; the DSN's
// password from the environment is never printed.
func TestConfigCheck_EnvFile(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := runCLI(t, map[string]string{
		EnvConfig:     "testdata/config/good.toml",
		"WXNOTIFY_DB": "postgres://wx:hunter2@db.internal/wx",
	}, "config", "check", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "hunter2") || !strings.Contains(stdout, "xxxxx") {
		t.Fatalf("password not redacted:\n%s", stdout)
	}
	if !strings.Contains(stdout, `"value": 64`) || !strings.Contains(stdout, `"path": "testdata/config/good.toml"`) {
		t.Fatalf("file not read:\n%s", stdout)
	}
	if _, stderr, code := runCLI(t, map[string]string{EnvConfig: "testdata/config/missing.toml"}, "config", "check"); code == 0 || !strings.Contains(stderr, "missing.toml") {
		t.Fatalf("missing file: exit %d %q", code, stderr)
	}
}

// TestConfig_ExampleInStep: the example file holds exactly the defaults,
// and the documentation names every key, so neither drifts from the struct.
func TestConfig_ExampleInStep(t *testing.T) {
	t.Parallel()
	lc, err := LoadConfig(configInput{Path: "../../etc/wxnotify.example.toml"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lc.Config, NewConfig()) {
		t.Fatalf("etc/wxnotify.example.toml differs from NewConfig():\n%+v\nwant\n%+v", lc.Config, NewConfig())
	}
	example, err := os.ReadFile("../../etc/wxnotify.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if lc.Source[s.key] == "default" {
			t.Errorf("etc/wxnotify.example.toml does not set %s", s.key)
		}
		if !bytes.Contains(doc, []byte("`"+s.key+"`")) {
			t.Errorf("docs/configuration.md does not document %s", s.key)
		}
		if s.env != "" && (!bytes.Contains(doc, []byte(s.env)) || !bytes.Contains(example, []byte(s.env))) {
			t.Errorf("the docs or the example do not name %s's variable %s", s.key, s.env)
		}
	}
}

func TestDuration_String(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		720 * time.Hour:                "720h",
		5 * time.Minute:                "5m",
		90 * time.Minute:               "1h30m",
		30 * time.Second:               "30s",
		50 * time.Millisecond:          "50ms",
		time.Hour + time.Second:        "1h0m1s",
		4*time.Minute + 30*time.Second: "4m30s",
	} {
		if got := (Duration{d}).String(); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
		if back, err := parseDuration(want); err != nil || back != d {
			t.Errorf("%q parses to %v, %v", want, back, err)
		}
	}
}

func TestClosest(t *testing.T) {
	t.Parallel()
	known := []string{"delivery", "delivery.concurrency", "delivery.lease", "token.lease", "sessions", "sessions.ttl"}
	for key, want := range map[string]string{
		"delivery.concurency": "delivery.concurrency",
		"delivery.leese":      "delivery.lease",
		"sessoins":            "sessions",
		"delivery.frobnicate": "",
	} {
		if got := closest(key, known); got != want {
			t.Errorf("closest(%q)=%q, want %q", key, got, want)
		}
	}
}
