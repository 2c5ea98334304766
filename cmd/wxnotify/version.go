package main

import (
	"cmp"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// build says which code is running, from what the go command stamped into
// the binary (runtime/debug.ReadBuildInfo): the module version for
// `go install …@v1.2.3`, and for a build in a git checkout the commit, its
// time and whether the tree had uncommitted changes.
type build struct {
	Version   string `json:"version"`            // v1.2.3, or "(devel)" for a build from a checkout
	Revision  string `json:"revision,omitempty"` // the VCS commit
	Time      string `json:"time,omitempty"`     // the commit's time, RFC 3339
	Modified  bool   `json:"modified"`           // the tree differed from the commit (a "dirty" build)
	GoVersion string `json:"go_version"`         // the toolchain
	Module    string `json:"module,omitempty"`   // the main module's path
}

func readBuild() build {
	b := build{Version: "(devel)"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.Version = cmp.Or(bi.Main.Version, b.Version)
	b.GoVersion = bi.GoVersion
	b.Module = bi.Main.Path
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is one line: "v1.2.3 (abc123def456, 2026-11-25T10:00:00Z, modified, go1.26.8)".
func (b build) String() string {
	s := b.Version + " ("
	if b.Revision != "" {
		s += shortRevision(b.Revision) + ", "
		if b.Time != "" {
			s += b.Time + ", "
		}
		if b.Modified {
			s += "modified, "
		}
	} else {
		s += "no VCS revision, "
	}
	return s + b.GoVersion + ")"
}

func shortRevision(r string) string {
	if len(r) > 12 {
		return r[:12]
	}
	return r
}

// version is the short form the HTTP client's User-Agent carries.
func version() string {
	b := readBuild()
	if b.Version == "(devel)" && b.Revision != "" {
		return "devel-" + shortRevision(b.Revision)
	}
	return b.Version
}

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version: module version, VCS revision, build time, modified flag (--json for all fields)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := readBuild()
			if g.json {
				return g.printJSON(b)
			}
			fmt.Fprintln(g.env.Stdout, "wxnotify", b)
			return nil
		},
	}
}
