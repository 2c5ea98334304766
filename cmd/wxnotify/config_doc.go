package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// etc/wxnotify.example.toml and the key tables of docs/configuration.md are
// generated from the settings table; TestConfig_Generated fails when the
// committed files are not what it produces.
//go:generate go run . config generate --example ../../etc/wxnotify.example.toml --docs ../../docs/configuration.md

// newConfigExampleCommand prints the example file, for operators.
func newConfigExampleCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "example",
		Short:   "Print a configuration file with every key at its default, each with what it controls",
		Long:    "Print a complete configuration file: every key at its default, with a comment saying what it controls,\nthe values it allows and its variable or flag. It is etc/wxnotify.example.toml, for the version you run.",
		Example: "  wxnotify config example > /etc/wxnotify.toml",
		Args:    exactArgs(0),
		RunE:    func(*cobra.Command, []string) error { return writeExample(g.env.Stdout) },
	}
}

// newConfigGenerateCommand writes the generated files, for go generate.
func newConfigGenerateCommand() *cobra.Command {
	var examplePath, docsPath string
	cmd := &cobra.Command{
		Use:    "generate",
		Short:  "Rewrite the example file and the key tables of the documentation from the settings table (go generate)",
		Hidden: true, // for go generate ./cmd/wxnotify
		Args:   exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			if examplePath != "" {
				var b bytes.Buffer
				if err := writeExample(&b); err != nil {
					return err
				}
				if err := os.WriteFile(examplePath, b.Bytes(), 0o644); err != nil {
					return err
				}
			}
			if docsPath != "" {
				doc, err := os.ReadFile(docsPath)
				if err != nil {
					return err
				}
				if doc, err = replaceKeyTables(doc); err != nil {
					return fmt.Errorf("%s: %w", docsPath, err)
				}
				return os.WriteFile(docsPath, doc, 0o644)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&examplePath, "example", "", "write the example configuration to this file")
	cmd.Flags().StringVar(&docsPath, "docs", "", "rewrite the key tables of this Markdown file, between "+docsBegin+" and "+docsEnd)
	return cmd
}

// sections returns the tables of the file in order, each with its settings.
func sections() (names []string, of map[string][]setting) {
	of = map[string][]setting{}
	for _, s := range settings {
		if _, ok := of[s.table()]; !ok {
			names = append(names, s.table())
		}
		of[s.table()] = append(of[s.table()], s)
	}
	return names, of
}

// exampleHeader opens the example file: what no single key says.
const exampleHeader = `# wxnotify configuration: every tunable with its default.
#
#   wxnotify serve --config /etc/wxnotify.toml      (or WXNOTIFY_CONFIG=/etc/wxnotify.toml)
#   wxnotify config check --config /etc/wxnotify.toml
#   wxnotify config example                          (prints this file, for the version you run)
#
# Precedence: flag > environment variable > this file > default. Every key can
# also be set by an environment variable, WXNOTIFY_ and the key in capitals
# (delivery.concurrency: WXNOTIFY_DELIVERY_CONCURRENCY), except where noted.
# Durations are quoted Go durations: "500ms", "30s", "5m", "1h30m", "720h".
#
# Secrets never go in this file, and a secret-looking key is an error:
#   WXNOTIFY_SECRET_KEY or WXNOTIFY_SECRET_KEY_FILE   encrypts app secrets and tokens at rest
#   WXNOTIFY_ADMIN_PASSWORD                            the dashboard's operator password
#   app secrets                                        on stdin: wxnotify app add APPID
#   a database password                                WXNOTIFY_DB, PGPASSWORD or ~/.pgpass
#
# In the repository this file is generated from the settings table in
# cmd/wxnotify/config.go (go generate ./cmd/wxnotify); edit the table, not this file.
`

// writeExample writes etc/wxnotify.example.toml: every key at its default,
// after its doc, allowed values, and its variable if it keeps an older
// name and its flag.
func writeExample(w io.Writer) error {
	var b strings.Builder
	b.WriteString(exampleHeader)
	names, of := sections()
	for _, t := range names {
		b.WriteString("\n")
		if title := sectionTitles[t]; title != "" {
			b.WriteString("# " + strings.ToUpper(title[:1]) + title[1:] + ".\n")
		}
		fmt.Fprintf(&b, "[%s]\n", t)
		for _, s := range of[t] {
			notes := "Allowed: " + s.allow.text + "."
			var over []string
			if s.env != "" {
				over = append(over, "env "+s.env)
			}
			if s.flag != "" {
				over = append(over, "flag --"+s.flag)
			}
			if len(over) > 0 {
				o := strings.Join(over, ", ")
				notes += " " + strings.ToUpper(o[:1]) + o[1:] + "."
			}
			doc := strings.ToUpper(s.doc[:1]) + s.doc[1:] + "."
			for _, text := range []string{doc, notes} {
				for _, line := range wrap(strings.ReplaceAll(text, "`", ""), 78) {
					b.WriteString("# " + line + "\n")
				}
			}
			fmt.Fprintf(&b, "%s = %s\n", s.name(), s.literal(s.def))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// wrap breaks text into lines of at most width bytes, between words.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

// The generated part of docs/configuration.md lies between these lines.
const (
	docsBegin = "<!-- settings:begin -->"
	docsEnd   = "<!-- settings:end -->"
)

// writeKeyTables writes the key tables of docs/configuration.md, one per
// [table] of the file.
func writeKeyTables(w io.Writer) error {
	var b strings.Builder
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	names, of := sections()
	for i, t := range names {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "### `[%s]`", t)
		if title := sectionTitles[t]; title != "" {
			b.WriteString(" — " + title)
		}
		b.WriteString("\n\n| key | default | allowed | env / flag | what it controls |\n|---|---|---|---|---|\n")
		for _, s := range of[t] {
			over := "`" + s.envName() + "`"
			if s.flag != "" {
				over += ", `--" + s.flag + "`"
			}
			fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s |\n", s.key, s.literal(s.def), cell(s.allow.text), over, cell(s.doc))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// replaceKeyTables returns doc with what lies between docsBegin and
// docsEnd replaced by writeKeyTables' output; the prose around is kept.
func replaceKeyTables(doc []byte) ([]byte, error) {
	before, rest, ok := bytes.Cut(doc, []byte(docsBegin+"\n"))
	if !ok {
		return nil, fmt.Errorf("no line %s", docsBegin)
	}
	_, after, ok := bytes.Cut(rest, []byte(docsEnd+"\n"))
	if !ok {
		return nil, fmt.Errorf("no line %s after %s", docsEnd, docsBegin)
	}
	var b bytes.Buffer
	b.Write(before)
	b.WriteString(docsBegin + "\n\n") // blank lines, so that the tables are blocks of their own
	if err := writeKeyTables(&b); err != nil {
		return nil, err
	}
	b.WriteString("\n" + docsEnd + "\n")
	b.Write(after)
	return b.Bytes(), nil
}
