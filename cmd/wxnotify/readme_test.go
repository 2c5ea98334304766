package main_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadme_TranslationInStep keeps README.zh-CN.md a faithful translation
// of README.md: both have the same code blocks in the same order, alike but
// for their comments (# … and // …, which the translation translates). A
// change to a command or an output in one README fails here until the other
// has it too.
func TestReadme_TranslationInStep(t *testing.T) {
	t.Parallel()
	en, zh := readmeBlocks(t, "../../README.md"), readmeBlocks(t, "../../README.zh-CN.md")
	for i := range max(len(en), len(zh)) {
		switch {
		case i >= len(zh):
			t.Fatalf("README.md's code block %d has no counterpart in README.zh-CN.md:\n%s", i+1, en[i])
		case i >= len(en):
			t.Fatalf("README.zh-CN.md's code block %d has no counterpart in README.md:\n%s", i+1, zh[i])
		case en[i] != zh[i]:
			t.Fatalf("code block %d differs, beyond its comments; update README.zh-CN.md\nREADME.md:\n%s\nREADME.zh-CN.md:\n%s", i+1, en[i], zh[i])
		}
	}
}

var readmeComment = regexp.MustCompile(`(^|\s+)(#|//)( .*)?$`)

// readmeBlocks returns the fenced code blocks of a Markdown file, without
// comments, blank lines and trailing spaces.
func readmeBlocks(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur []string
	in := false
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			if in {
				blocks = append(blocks, strings.Join(cur, "\n"))
				cur = nil
			}
			in = !in
			continue
		}
		if !in {
			continue
		}
		if line = strings.TrimRight(readmeComment.ReplaceAllString(line, ""), " "); line != "" {
			cur = append(cur, line)
		}
	}
	if in {
		t.Fatalf("%s: a code block is not closed", path)
	}
	return blocks
}
