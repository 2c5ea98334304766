package client_test

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// clientMayImport is every package of this module that the client may
// depend on. The client is built into other teams' services: it speaks the
// wire contract of the root package and nothing else, so importing a
// server package (http, delivery, store, queue, token, …) would drag the
// server and its drivers into every caller. Add a package here only if it
// is not part of the server.
var clientMayImport = []string{
	"github.com/wxnotify/wxnotify",
}

// TestImportsNoServerPackage walks the client's non-test imports, through
// every package of this module it reaches, and fails on one that is not in
// clientMayImport. It reads the sources with go/build, so it needs no go
// command.
func TestImportsNoServerPackage(t *testing.T) {
	const module = "github.com/wxnotify/wxnotify"
	root, err := filepath.Abs("..") // the module's directory: this test runs in client/
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(path, from string)
	walk = func(path, from string) {
		if seen[path] {
			return
		}
		seen[path] = true
		pkg, err := build.ImportDir(filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(path, module))), 0)
		if err != nil {
			t.Fatalf("%s (imported by %s): %v", path, from, err)
		}
		for _, imp := range pkg.Imports {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue // the standard library or another module
			}
			if !slices.Contains(clientMayImport, imp) {
				t.Errorf("%s imports %s: the client must import no server package", path, imp)
			}
			walk(imp, path)
		}
	}
	walk(module+"/client", "the test")
	if !seen[module] {
		t.Errorf("the walk never reached %s: is the test reading the right directory (%s)?", module, root)
	}
}
