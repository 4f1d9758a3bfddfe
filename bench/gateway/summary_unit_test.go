package gateway

import (
	"strings"
	"testing"
)

func TestSpreadIsTheMedianWithItsRange(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want spread
	}{
		{[]float64{3, 1, 2}, spread{2, 1, 3}},
		{[]float64{4, 1, 3, 2}, spread{2.5, 1, 4}},
		{[]float64{7}, spread{7, 7, 7}},
		{nil, spread{}},
	} {
		if got := spreadOf(c.in); got != c.want {
			t.Errorf("spreadOf(%v) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestSummaryComparesWithinEachRoundAndJudgesMedians(t *testing.T) {
	targets := []target{{name: "direct", conns: 16}, {name: "toxiproxy", conns: 16}, {name: "gateway", conns: 16}}
	// Round 2 runs at half speed throughout: its ratios are those of
	// round 1, so a figure taken across rounds would be wrong.
	rounds := []map[string]load{
		{"direct": {RPS: 20000, P50us: 600}, "toxiproxy": {RPS: 10000, P50us: 900}, "gateway": {RPS: 13000, P50us: 650}},
		{"direct": {RPS: 10000, P50us: 1200}, "toxiproxy": {RPS: 5000, P50us: 1800}, "gateway": {RPS: 6500, P50us: 1250}},
		{"direct": {RPS: 20000, P50us: 600}, "toxiproxy": {RPS: 10000, P50us: 900}, "gateway": {RPS: 11000, P50us: 700}},
	}
	s := summarize(targets, rounds)
	got := map[string]comparison{}
	for _, c := range s.comparisons {
		got[c.name] = c
	}
	ratio := got["gateway / toxiproxy, req/s"]
	if ratio.values != (spread{1.3, 1.1, 1.3}) || !ratio.met {
		t.Errorf("gateway / toxiproxy = %+v, want median 1.3 [1.1–1.3], met", ratio)
	}
	added := got["gateway − direct, p50"]
	if added.values != (spread{50, 50, 100}) || !added.met {
		t.Errorf("gateway − direct = %+v, want median +50 [+50–+100], met", added)
	}
	if _, ok := got["io.Copy / direct, req/s"]; ok {
		t.Error("a comparison with a target that did not run is listed")
	}
	md := s.markdown()
	for _, want := range []string{"| gateway | 16 | 11000 [6500–13000] |", "| gateway / toxiproxy, req/s | 1.30× [1.10× – 1.30×] | ≥ 1.2×: met |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
