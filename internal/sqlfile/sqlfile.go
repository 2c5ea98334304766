// Package sqlfile reads the named SQL statements of a driver from its .sql
// files, in the annotation style of sqlc:
//
//	-- name: MessageLockDue
//	-- Comments after the name line document the statement.
//	SELECT … FROM message WHERE …;
//
// A statement runs from its name line to the next one (or the end of the
// file); a trailing semicolon and surrounding blank lines are dropped, so a
// fragment (a WHERE term a query builder appends) may be stored too.
// Drivers load their statements once into package variables with MustGet,
// so a missing name fails at program start, in every test.
package sqlfile

import (
	"fmt"
	"io/fs"
	"strings"
)

// Set is the statements of a driver, by name.
type Set map[string]string

// Load reads every file of fsys matching pattern. A name defined twice is an
// error.
func Load(fsys fs.FS, pattern string) (Set, error) {
	files, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("sqlfile: no file matches %s", pattern)
	}
	set := Set{}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		if err := set.parse(f, string(b)); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// MustLoad is Load that panics: for package-level variables.
func MustLoad(fsys fs.FS, pattern string) Set {
	s, err := Load(fsys, pattern)
	if err != nil {
		panic(err)
	}
	return s
}

func (s Set) parse(file, text string) error {
	var (
		name string
		body strings.Builder
	)
	flush := func() error {
		if name == "" {
			return nil
		}
		if _, dup := s[name]; dup {
			return fmt.Errorf("sqlfile: %s: %s defined twice", file, name)
		}
		q := strings.TrimSpace(body.String())
		q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
		if q == "" {
			return fmt.Errorf("sqlfile: %s: %s is empty", file, name)
		}
		s[name] = "\n" + q
		body.Reset()
		return nil
	}
	for line := range strings.Lines(text) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
			if err := flush(); err != nil {
				return err
			}
			// sqlc's ":one"/":many"/":exec" suffix is allowed and ignored.
			name, _, _ = strings.Cut(strings.TrimSpace(rest), " ")
			if name == "" {
				return fmt.Errorf("sqlfile: %s: a name line without a name", file)
			}
			continue
		}
		if name == "" {
			continue // the file's own header comment
		}
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "--") && body.Len() == 0 {
			continue // the statement's doc comment
		}
		body.WriteString(line)
	}
	return flush()
}

// MustGet returns the statement called name, or panics: a driver's package
// variables call it, so a missing statement fails at start.
func (s Set) MustGet(name string) string {
	q, ok := s[name]
	if !ok {
		panic(fmt.Sprintf("sqlfile: no statement %q", name))
	}
	return q
}
