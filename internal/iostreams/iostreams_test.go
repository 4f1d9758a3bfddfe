package iostreams

import "testing"

func TestColorWantedFollowsNoColorOrg(t *testing.T) {
	for _, c := range []struct {
		name string
		tty  bool
		env  map[string]string
		want bool
	}{
		{"a terminal", true, map[string]string{"TERM": "xterm-256color"}, true},
		{"NO_COLOR set and empty keeps colour", true, map[string]string{"TERM": "xterm-256color", "NO_COLOR": ""}, true},
		{"NO_COLOR=1", true, map[string]string{"TERM": "xterm-256color", "NO_COLOR": "1"}, false},
		{"NO_COLOR=0 (any non-empty value)", true, map[string]string{"TERM": "xterm-256color", "NO_COLOR": "0"}, false},
		{"NO_COLOR=yes", true, map[string]string{"TERM": "xterm-256color", "NO_COLOR": "yes"}, false},
		{"TERM=dumb", true, map[string]string{"TERM": "dumb"}, false},
		{"not a terminal", false, map[string]string{"TERM": "xterm-256color"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := colorWanted(c.tty, func(k string) string { return c.env[k] }); got != c.want {
				t.Fatalf("colorWanted = %v, want %v", got, c.want)
			}
		})
	}
}
