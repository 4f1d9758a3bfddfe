package gateway

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// spread is the median of a figure over the rounds, with its range.
type spread struct{ median, min, max float64 }

func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{median: m, min: s[0], max: s[len(s)-1]}
}

// row is one target's figures over the rounds.
type row struct {
	name     string
	conns    int
	rps, p50 spread
	p99      spread
}

// comparison is a figure computed within each round, then summarized.
type comparison struct {
	name   string
	format string // fmt verb for the median and the range
	values spread
	// target, when set, is what the issue asks of this figure's median
	// (met says whether it holds).
	target string
	met    bool
}

type summary struct {
	rounds      int
	rows        []row
	comparisons []comparison
}

func summarize(targets []target, rounds []map[string]load) summary {
	s := summary{rounds: len(rounds)}
	per := func(f func(r map[string]load) (float64, bool)) []float64 {
		var xs []float64
		for _, r := range rounds {
			if x, ok := f(r); ok {
				xs = append(xs, x)
			}
		}
		return xs
	}
	for _, tg := range targets {
		s.rows = append(s.rows, row{
			name:  tg.name,
			conns: tg.conns,
			rps:   spreadOf(per(func(r map[string]load) (float64, bool) { return r[tg.name].RPS, true })),
			p50:   spreadOf(per(func(r map[string]load) (float64, bool) { return r[tg.name].P50us, true })),
			p99:   spreadOf(per(func(r map[string]load) (float64, bool) { return r[tg.name].P99us, true })),
		})
	}
	ratio := func(a, b string) func(r map[string]load) (float64, bool) {
		return func(r map[string]load) (float64, bool) {
			x, okA := r[a]
			y, okB := r[b]
			return x.RPS / y.RPS, okA && okB && y.RPS > 0
		}
	}
	added := func(a, b string) func(r map[string]load) (float64, bool) {
		return func(r map[string]load) (float64, bool) {
			x, okA := r[a]
			y, okB := r[b]
			return x.P50us - y.P50us, okA && okB
		}
	}
	add := func(c comparison, xs []float64) {
		if len(xs) == 0 {
			return
		}
		c.values = spreadOf(xs)
		switch c.target {
		case "≥ 1.2×":
			c.met = c.values.median >= 1.2
		case "≤ +60 µs":
			c.met = c.values.median <= 60
		}
		s.comparisons = append(s.comparisons, c)
	}
	for _, peer := range []string{"io.Copy", "toxiproxy", "ReverseProxy", "gateway"} {
		p50 := comparison{name: peer + " − direct, p50", format: "%+.0f µs"}
		p50at1 := comparison{name: peer + " − direct, p50 at 1 connection", format: "%+.0f µs"}
		if peer == "gateway" {
			p50.target, p50at1.target = "≤ +60 µs", "≤ +60 µs"
		}
		add(comparison{name: peer + " / direct, req/s", format: "%.2f×"}, per(ratio(peer, "direct")))
		add(p50, per(added(peer, "direct")))
		add(p50at1, per(added(peer+"@1", "direct@1")))
	}
	if xs := per(ratio("gateway", "toxiproxy")); len(xs) > 0 {
		add(comparison{name: "gateway / toxiproxy, req/s", format: "%.2f×", target: "≥ 1.2×"}, xs)
	}
	add(comparison{name: "io.Copy / toxiproxy, req/s", format: "%.2f×"}, per(ratio("io.Copy", "toxiproxy")))
	add(comparison{name: "ReverseProxy / toxiproxy, req/s", format: "%.2f×"}, per(ratio("ReverseProxy", "toxiproxy")))
	add(comparison{name: "gateway / ReverseProxy, req/s", format: "%.2f×"}, per(ratio("gateway", "ReverseProxy")))
	add(comparison{name: "gateway-nolog / gateway, req/s", format: "%.2f×"}, per(ratio("gateway-nolog", "gateway")))
	add(comparison{name: "gateway-nolog / toxiproxy, req/s", format: "%.2f×"}, per(ratio("gateway-nolog", "toxiproxy")))
	add(comparison{name: "ReverseProxy-sync / ReverseProxy, req/s", format: "%.2f×"}, per(ratio("ReverseProxy-sync", "ReverseProxy")))
	add(comparison{name: "ReverseProxy-sync / toxiproxy, req/s", format: "%.2f×"}, per(ratio("ReverseProxy-sync", "toxiproxy")))
	add(comparison{name: "gateway-10ms / direct-10ms, req/s", format: "%.2f×"}, per(ratio("gateway-10ms", "direct-10ms")))
	return s
}

// report puts the figures the issue names where benchstat sees them
// (the rest are in the table).
func (s summary) report(b *testing.B) {
	units := map[string]string{
		"gateway / toxiproxy, req/s":            "gw/toxiproxy",
		"gateway − direct, p50":                 "gw-p50-added-µs",
		"gateway − direct, p50 at 1 connection": "gw@1-p50-added-µs",
		"gateway-open req/s":                    "open-req/s",
		"gateway-open p50":                      "open-p50-µs",
		"gateway-10ms req/s":                    "gw-10ms-req/s",
		"gateway-10ms / direct-10ms, req/s":     "gw-10ms/direct-10ms",
	}
	for _, r := range s.rows {
		if u, ok := units[r.name+" req/s"]; ok {
			b.ReportMetric(r.rps.median, u)
		}
		if u, ok := units[r.name+" p50"]; ok {
			b.ReportMetric(r.p50.median, u)
		}
	}
	for _, c := range s.comparisons {
		if u, ok := units[c.name]; ok {
			b.ReportMetric(c.values.median, u)
		}
	}
}

// markdown is the table for docs/benchmarks.md.
func (s summary) markdown() string {
	var w strings.Builder
	fmt.Fprintf(&w, "%d rounds; medians [min–max]\n\n", s.rounds)
	w.WriteString("| target | connections | req/s | p50 µs | p99 µs |\n|:---|---:|---:|---:|---:|\n")
	for _, r := range s.rows {
		fmt.Fprintf(&w, "| %s | %d | %.0f [%.0f–%.0f] | %.0f [%.0f–%.0f] | %.0f [%.0f–%.0f] |\n",
			r.name, r.conns, r.rps.median, r.rps.min, r.rps.max, r.p50.median, r.p50.min, r.p50.max,
			r.p99.median, r.p99.min, r.p99.max)
	}
	w.WriteString("\n| within each round | median [min–max] | target |\n|:---|---:|:---|\n")
	for _, c := range s.comparisons {
		verdict := ""
		if c.target != "" {
			verdict = c.target + ": missed"
			if c.met {
				verdict = c.target + ": met"
			}
		}
		f := c.format
		fmt.Fprintf(&w, "| %s | "+f+" ["+f+" – "+f+"] | %s |\n", c.name, c.values.median, c.values.min, c.values.max, verdict)
	}
	return w.String()
}
