package main

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const (
	examplePath = "../../etc/wxnotify.example.toml"
	docsPath    = "../../docs/configuration.md"
)

// TestConfig_Generated: etc/wxnotify.example.toml and the key tables of
// docs/configuration.md are what the settings table produces. Before the
// byte comparison it names what drifted: a key of the table the file lacks,
// a key the file shows that the table does not have, a default that
// differs.
func TestConfig_Generated(t *testing.T) {
	t.Parallel()
	const fix = "run go generate ./cmd/wxnotify"

	example, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{}
	for key, kp := range keyLines(example) {
		shown[key] = kp.value
	}
	for _, p := range documentedDrift(shown) {
		t.Errorf("etc/wxnotify.example.toml %s (%s)", p, fix)
	}
	var want bytes.Buffer
	if err := writeExample(&want); err != nil {
		t.Fatal(err)
	}
	if d := firstDifference(example, want.Bytes()); d != "" {
		t.Errorf("etc/wxnotify.example.toml is not what the settings table produces (%s): %s", fix, d)
	}

	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	region, err := keyTablesOf(doc)
	if err != nil {
		t.Fatalf("docs/configuration.md: %v", err)
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| `([^`]*)` \\|")
	shown = map[string]string{}
	for _, m := range row.FindAllSubmatch(region, -1) {
		shown[string(m[1])] = string(m[2])
	}
	for _, p := range documentedDrift(shown) {
		t.Errorf("docs/configuration.md %s (%s)", p, fix)
	}
	regenerated, err := replaceKeyTables(doc)
	if err != nil {
		t.Fatal(err)
	}
	if d := firstDifference(doc, regenerated); d != "" {
		t.Errorf("the key tables of docs/configuration.md are not what the settings table produces (%s): %s", fix, d)
	}
}

// documentedDrift compares the keys a file shows, each with its default as
// written, with the settings table.
func documentedDrift(shown map[string]string) []string {
	var problems []string
	for _, s := range settings {
		v, ok := shown[s.key]
		switch {
		case !ok:
			problems = append(problems, "lacks "+s.key)
		case v != s.literal(s.def):
			problems = append(problems, fmt.Sprintf("shows %s = %s, but its default is %s", s.key, v, s.literal(s.def)))
		}
	}
	for key := range shown {
		if _, ok := findSetting(key); !ok {
			problems = append(problems, "shows "+key+", which is not a setting")
		}
	}
	slices.Sort(problems)
	return problems
}

// keyTablesOf returns what lies between the markers of doc.
func keyTablesOf(doc []byte) ([]byte, error) {
	_, rest, ok := bytes.Cut(doc, []byte(docsBegin+"\n"))
	if !ok {
		return nil, fmt.Errorf("no line %s", docsBegin)
	}
	region, _, ok := bytes.Cut(rest, []byte(docsEnd+"\n"))
	if !ok {
		return nil, fmt.Errorf("no line %s after %s", docsEnd, docsBegin)
	}
	return region, nil
}

// firstDifference describes the first line where got and want differ, or
// returns "" when they are equal.
func firstDifference(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; ; i++ {
		switch {
		case i >= len(g):
			return fmt.Sprintf("line %d: missing %q", i+1, w[i])
		case i >= len(w):
			return fmt.Sprintf("line %d: %q should not be there", i+1, g[i])
		case g[i] != w[i]:
			return fmt.Sprintf("line %d: %q, want %q", i+1, g[i], w[i])
		}
	}
}

// TestConfig_ProseNamesKeys: the hand-written prose of
// docs/configuration.md, outside the generated tables, names no key the
// table does not have.
func TestConfig_ProseNamesKeys(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, _ := bytes.Cut(doc, []byte(docsBegin))
	_, after, _ := bytes.Cut(rest, []byte(docsEnd))
	tables, _ := sections()
	span := regexp.MustCompile("`([a-z_]+)\\.([a-z_]+)`")
	for _, part := range [][]byte{before, after} {
		for _, m := range span.FindAllSubmatch(part, -1) {
			if !slices.Contains(tables, string(m[1])) {
				continue // wx.login and the like
			}
			if key := string(m[1]) + "." + string(m[2]); !slices.ContainsFunc(settings, func(s setting) bool { return s.key == key }) {
				t.Errorf("docs/configuration.md names %s, which is not a setting", key)
			}
		}
	}
}

// TestConfig_SettingsTable: every field of Config is filled by exactly one
// row, and the rows' names, variables and flags are distinct and
// well-formed.
func TestConfig_SettingsTable(t *testing.T) {
	t.Parallel()
	c := NewConfig() // panics on a default of the wrong type
	fields := map[any]string{}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		if v.Kind() == reflect.Struct && v.Type() != reflect.TypeOf(Duration{}) {
			for i := range v.NumField() {
				walk(v.Field(i), path+"."+v.Type().Field(i).Name)
			}
			return
		}
		fields[v.Addr().Interface()] = strings.TrimPrefix(path, ".")
	}
	walk(reflect.ValueOf(c).Elem(), "")

	key := regexp.MustCompile(`^[a-z]+\.[a-z_]+$`)
	seen := map[string]string{}
	once := func(kind, name, key string) {
		if other, ok := seen[kind+name]; ok {
			t.Errorf("%s %s is both %s's and %s's", kind, name, other, key)
		}
		seen[kind+name] = key
	}
	for _, s := range settings {
		if !key.MatchString(s.key) {
			t.Errorf("key %q is not table.name", s.key)
		}
		once("key", s.key, s.key)
		once("variable", s.envName(), s.key)
		if s.flag != "" {
			once("flag", s.flag, s.key)
		}
		p := s.field(c)
		if _, ok := fields[p]; !ok {
			t.Errorf("%s fills no field of Config, or one that another row fills too", s.key)
		}
		delete(fields, p)
		if s.doc == "" || strings.ContainsAny(s.doc, "\n|") || s.allow.text == "" {
			t.Errorf("%s: a doc line (no newline, no |) and the allowed values must be written", s.key)
		}
		if !reflect.DeepEqual(s.get(c), s.def) {
			t.Errorf("%s: NewConfig has %v, the table %v", s.key, s.get(c), s.def)
		}
	}
	for _, path := range fields {
		t.Errorf("Config.%s has no row in settings", path)
	}
}

// TestConfig_Flags: every flag of the table exists, with the table's
// default: on serve, or (--url) on the commands that talk to a server.
func TestConfig_Flags(t *testing.T) {
	t.Parallel()
	root := newRootCommand(&globals{env: &Env{Getenv: func(string) string { return "" }}})
	var cmds []*cobra.Command
	for _, path := range [][]string{{"serve"}, {"send"}, {"messages", "ls"}} {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for _, s := range settings {
		if s.flag == "" {
			continue
		}
		var f *pflag.Flag
		for _, c := range cmds {
			if f = c.Flags().Lookup(s.flag); f == nil {
				f = c.InheritedFlags().Lookup(s.flag)
			}
			if f != nil {
				break
			}
		}
		if f == nil {
			t.Errorf("no command has the flag --%s (%s)", s.flag, s.key)
			continue
		}
		if f.DefValue == "" {
			continue
		}
		c := NewConfig()
		if err := s.set(c, f.DefValue); err != nil || !reflect.DeepEqual(s.get(c), s.def) {
			t.Errorf("--%s defaults to %q, the table to %s (%v)", s.flag, f.DefValue, s.literal(s.def), err)
		}
	}
}

// TestConfigExample: `config example` prints the example file, which
// loads to the defaults.
func TestConfigExample(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := runCLI(t, nil, "config", "example")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var want bytes.Buffer
	if err := writeExample(&want); err != nil {
		t.Fatal(err)
	}
	if stdout != want.String() {
		t.Fatalf("config example differs from writeExample:\n%s", stdout)
	}
	path := t.TempDir() + "/wx.toml"
	if err := os.WriteFile(path, []byte(stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	lc, err := LoadConfig(configInput{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lc.Config, NewConfig()) {
		t.Fatalf("the example loads to %+v, want the defaults", lc.Config)
	}
}
