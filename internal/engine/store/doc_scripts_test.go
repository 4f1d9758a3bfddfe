package store

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocListsEveryScript keeps docs/redis-schema.md's "The scripts" table
// complete: a client in another language finds the files it must run
// there, so a .lua file added to an engine part without a row fails here.
func TestDocListsEveryScript(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/redis-schema.md")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(doc), "\n## The scripts\n")
	if start < 0 {
		t.Fatal(`docs/redis-schema.md has no "## The scripts" section`)
	}
	section := string(doc[start+1:])
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var files []string
	err = filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".lua") && filepath.Base(filepath.Dir(p)) == "lua" {
			files = append(files, path.Join("internal/engine", filepath.ToSlash(strings.TrimPrefix(p, ".."+string(filepath.Separator)))))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found %d .lua files under internal/engine, expected every part's: %v", len(files), files)
	}
	for _, f := range files {
		if !strings.Contains(section, "| `"+f+"` |") {
			t.Errorf("docs/redis-schema.md, The scripts: no row for %s", f)
		}
	}
}
