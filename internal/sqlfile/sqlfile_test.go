package sqlfile

import (
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"q/a.sql": {Data: []byte("-- header of the file\n\n-- name: One :one\n-- what it does\nSELECT 1\n  FROM x;\n\n-- name: Frag\n AND y = ?1\n")},
		"q/b.sql": {Data: []byte("-- name: Two\nSELECT 2;\n")},
	}
	s, err := Load(fsys, "q/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"One": "\nSELECT 1\n  FROM x", "Frag": "\nAND y = ?1", "Two": "\nSELECT 2"} {
		if got := s.MustGet(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if len(s) != 3 {
		t.Errorf("len = %d, want 3", len(s))
	}
}

func TestLoadErrors(t *testing.T) {
	for name, text := range map[string]string{
		"duplicate": "-- name: A\nSELECT 1;\n-- name: A\nSELECT 2;\n",
		"empty":     "-- name: A\n-- only a comment\n",
		"no name":   "-- name:\nSELECT 1;\n",
	} {
		if _, err := Load(fstest.MapFS{"x.sql": {Data: []byte(text)}}, "*.sql"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Load(fstest.MapFS{}, "*.sql"); err == nil {
		t.Error("no files: no error")
	}
	defer func() {
		if recover() == nil {
			t.Error("MustGet of a missing name did not panic")
		}
	}()
	Set{}.MustGet("missing")
}
