package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// How the CLI finds a running `wxnotify dev`: dev writes a configuration
// file of its own (devConnFile, mode 0600) into its directory, naming its
// database, secret key file, simulator, API and API key file. A command
// given no --config or WXNOTIFY_CONFIG looks for DefaultDevDir/devConnFile
// in the working directory and its parents, as git finds .git, and reads
// it as its configuration file: flags and the environment still win over
// it, key by key. WXNOTIFY_DEV_DIR names the directory instead, or turns
// the search off ("none").
const (
	devConnFile = "connect.toml"
	devKeyName  = "api.key" // the demo API key, for client.api_key_file
	// EnvDevDir names the dev directory the CLI connects to.
	EnvDevDir = "WXNOTIFY_DEV_DIR"
)

// devConn is what dev writes for the CLI. Paths are absolute.
type devConn struct {
	DSN        string // "" when it holds a password, which never goes in a file
	KeyFile    string // "" when the key came from WXNOTIFY_SECRET_KEY
	WeChatURL  string
	APIURL     string
	APIKeyFile string
}

// writeDevConn writes c as dir/devConnFile.
func writeDevConn(dir string, c devConn) error {
	var b strings.Builder
	b.WriteString("# Written by `wxnotify dev` for the CLI: a command run in this directory's parent (or below)\n" +
		"# with no --config reads it, so it acts on this dev. Rewritten on every start; do not edit.\n")
	table := func(name string, kv ...string) {
		var lines []string
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] != "" {
				lines = append(lines, kv[i]+" = "+strconv.Quote(kv[i+1]))
			}
		}
		if len(lines) > 0 {
			fmt.Fprintf(&b, "\n[%s]\n%s\n", name, strings.Join(lines, "\n"))
		}
	}
	dsn := c.DSN
	if u, err := url.Parse(dsn); err == nil {
		if _, pass := u.User.Password(); pass || u.Query().Has("password") {
			dsn = ""
		}
	}
	table("database", "dsn", dsn)
	table("secrets", "key_file", c.KeyFile)
	table("wechat", "base_url", c.WeChatURL)
	table("client", "url", c.APIURL, "api_key_file", c.APIKeyFile)
	return writeFileAtomic(filepath.Join(dir, devConnFile), []byte(b.String()))
}

// findDevConn returns the connection file of the dev the CLI should act
// on, or "" for none.
func findDevConn(env *Env) (string, error) {
	switch dir := env.Getenv(EnvDevDir); strings.ToLower(dir) {
	case "none", "off", "0", "false":
		return "", nil
	case "":
	default:
		p := filepath.Join(dir, devConnFile)
		if _, err := os.Stat(p); err != nil {
			return "", &ConfigError{Path: p, Problems: []string{fmt.Sprintf("%s=%s names no dev directory: run `wxnotify dev --dir %s` first", EnvDevDir, dir, dir)}}
		}
		return p, nil
	}
	if env.Getwd == nil {
		return "", nil
	}
	wd, err := env.Getwd()
	if err != nil {
		return "", nil // no working directory: nothing to find
	}
	for d := wd; ; {
		p := filepath.Join(d, DefaultDevDir, devConnFile)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("look for a running dev: %w", err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", nil
		}
		d = parent
	}
}

// newDevEnvCommand prints the configuration of a dev as export lines, for
// a shell that should reach it from anywhere.
func newDevEnvCommand(g *globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print export lines that point the CLI at a running dev, for eval \"$(wxnotify dev env)\"",
		Long: "Print the environment variables that point every command at the dev in --dir (by default the one\n" +
			"the CLI finds in this directory or a parent): its database, secret key file, simulator, API and\n" +
			"API key file. Commands run below that directory find it without them; these are for elsewhere.\n" +
			"Nothing secret is printed: the keys stay in their files.",
		Example: "  eval \"$(wxnotify dev env)\"",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := ""
			if cmd.Flags().Changed("dir") {
				abs, err := filepath.Abs(dir)
				if err != nil {
					return err
				}
				path = filepath.Join(abs, devConnFile)
			} else {
				p, err := findDevConn(g.env)
				if err != nil {
					return err
				}
				path = p
			}
			if path == "" {
				return &ConfigError{Problems: []string{"no running dev found here or in a parent directory: start `wxnotify dev`, or name its directory with --dir"}}
			}
			lc, err := LoadConfig(configInput{Path: path})
			if err != nil {
				return err
			}
			for _, s := range settings {
				if strings.HasPrefix(lc.Source[s.key], "file") {
					fmt.Fprintf(g.env.Stdout, "export %s=%s\n", s.envName(), shellQuote(s.shown(s.get(lc.Config)).(string)))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", DefaultDevDir, "the dev's directory")
	annotate(cmd, configNone)
	return cmd
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
