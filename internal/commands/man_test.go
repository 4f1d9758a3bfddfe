package commands

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// manPages runs `haderctl man --dir DIR` with env and returns the pages
// by file name.
func manPages(t *testing.T, env map[string]string) map[string]string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pages")
	code, out, stderr := runOffline(t, env, "man", "--dir", dir)
	if code != 0 || out != "" {
		t.Fatalf("man: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		pages[e.Name()] = string(b)
	}
	return pages
}

// Every command a user can run has its page, named after its path, and
// no page is left over; hidden commands and help topics have none.
func TestManWritesAPageForEveryCommand(t *testing.T) {
	pages := manPages(t, map[string]string{
		"SOURCE_DATE_EPOCH": "1700000000", // 2023-11-14
		"REDIS_URL":         "redis://:man-s3cret@127.0.0.1:1/0",
	})
	want := map[string]bool{}
	walkCommands(commandTree(t), func(c *cobra.Command) {
		if c.Hidden || c.IsAdditionalHelpTopicCommand() {
			if name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"; pages[name] != "" {
				t.Errorf("%s is hidden or a help topic, yet has a page", c.CommandPath())
			}
			return
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
		want[name] = true
		page, ok := pages[name]
		if !ok {
			t.Errorf("no page %s for %s", name, c.CommandPath())
			return
		}
		title := strings.ToUpper(strings.ReplaceAll(c.CommandPath(), " ", "-"))
		if head := `.TH "` + title + `" "1" "Nov 2023" "haderctl dev" "haderctl Manual"`; !strings.Contains(page, head+"\n") {
			t.Errorf("%s: header is not %s:\n%.300s", name, head, page)
		}
		if !strings.Contains(page, ".SH NAME\n"+strings.ReplaceAll(c.CommandPath(), " ", "-")+" - "+c.Short) {
			t.Errorf("%s: NAME section does not name it with its summary", name)
		}
		if strings.Contains(page, "man-s3cret") || strings.Contains(page, "Auto generated") {
			t.Errorf("%s shows the environment's password or cobra's stamp", name)
		}
	})
	for _, name := range []string{"haderctl.1", "haderctl-breaker-status.1", "haderctl-completion.1"} {
		if !want[name] {
			t.Errorf("the tree has no command for %s", name)
		}
	}
	for name := range pages {
		if !want[name] {
			t.Errorf("page %s belongs to no visible command", name)
		}
	}
	if pages["haderctl-man.1"] != "" || pages["haderctl-exit-codes.1"] != "" || pages["haderctl-help.1"] != "" {
		t.Errorf("man, help or exit-codes got a page")
	}
}

// Without SOURCE_DATE_EPOCH the date is still fixed (a dev build carries
// no date): the same source makes the same bytes.
func TestManPagesAreReproducible(t *testing.T) {
	first, second := manPages(t, nil), manPages(t, nil)
	names := slices.Sorted(maps.Keys(first))
	if len(names) == 0 || len(first) != len(second) {
		t.Fatalf("%d pages, then %d", len(first), len(second))
	}
	for _, n := range names {
		if first[n] != second[n] {
			t.Errorf("%s differs between two runs", n)
		}
	}
	if !strings.Contains(first["haderctl.1"], `.TH "HADERCTL" "1" "Jan 2026" "haderctl dev"`) {
		t.Errorf("a dev build's pages are not dated by the constant:\n%.200s", first["haderctl.1"])
	}
}

func TestManRefusesABadSourceDateEpoch(t *testing.T) {
	code, _, stderr := runOffline(t, map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, "man", "--dir", t.TempDir())
	if code != 2 || stderr != "haderctl: invalid SOURCE_DATE_EPOCH \"yesterday\": use whole seconds since 1970-01-01 UTC\n" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestManIsHiddenAndWritesToManpagesByDefault(t *testing.T) {
	c, _, err := commandTree(t).Find([]string{"man"})
	if err != nil || c.Name() != "man" || !c.Hidden || c.Flag("dir").DefValue != "manpages" {
		t.Fatalf("man: %v, hidden %v, --dir default %q", err, c.Hidden, c.Flag("dir").DefValue)
	}
	_, out, _ := runOffline(t, nil, "--help")
	if strings.Contains(out, "  man ") {
		t.Fatalf("help lists man:\n%s", out)
	}
}
