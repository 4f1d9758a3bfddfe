package duration

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestEveryFormReadsTheSameFromYAMLAndText(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Duration
	}{
		{"90s", Duration(90 * time.Second)},
		{"1h30m", Duration(90 * time.Minute)},
		{"90", Duration(90 * time.Second)},
		{"0.5", Duration(500 * time.Millisecond)},
		{"0", 0},
		{"never", Never},
		{"-1s", Never},
	} {
		var y, txt Duration
		if err := yaml.Unmarshal([]byte("v: "+c.in), &struct{ V *Duration }{&y}); err != nil || y != c.want {
			t.Errorf("yaml %q: %v, %v; want %v", c.in, y, err, c.want)
		}
		if err := txt.UnmarshalText([]byte(c.in)); err != nil || txt != c.want {
			t.Errorf("text %q: %v, %v; want %v", c.in, txt, err, c.want)
		}
	}
}

func TestBadAndOverflowingValuesSaySo(t *testing.T) {
	for in, want := range map[string]string{
		"soon":        `"soon" is not a duration`,
		"9999999999h": `"9999999999h" is too large`,
		"1e30":        `"1e30" is too large`,
		"NaN":         `"NaN" is not a duration`,
	} {
		var d Duration
		err := yaml.Unmarshal([]byte("v: "+in), &struct{ V *Duration }{&d})
		var ne *NodeError
		if !errors.As(err, &ne) || ne.Line != 1 || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want a NodeError at line 1 containing %q", in, err, want)
		}
	}
	if _, err := Parse("99999999999999999999"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("an overflowing number of seconds: %v", err)
	}
}

func TestWrittenInTheGoFormOrNever(t *testing.T) {
	out, err := yaml.Marshal(map[string]Duration{"a": Duration(2 * time.Minute), "b": Never})
	if err != nil || string(out) != "a: 2m0s\nb: never\n" {
		t.Fatalf("yaml: %q %v", out, err)
	}
	if j, _ := Duration(5 * time.Second).MarshalJSON(); string(j) != `"5s"` {
		t.Fatalf("json: %s", j)
	}
}
