package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rogpeppe/go-internal/testscript"
)

// The monitoring scripts' commands: /metrics read as Prometheus reads it
// (the text parser, not regexps over the text), and a JSON document's shape.

// scrape GETs url (the admin listener's /metrics) with the headers given
// as HEADER:VALUE and parses it with Prometheus' own text parser: a body it
// cannot parse is an error.
func scrape(url string, headers []string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// promcheck URL FAMILY...: scrapes URL and checks every FAMILY is there,
// failing with the names of those missing.
func cmdPromCheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: promcheck URL FAMILY...")
	}
	families, err := scrape(args[0], nil)
	ts.Check(err)
	var missing []string
	for _, name := range args[1:] {
		if _, ok := families[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		ts.Fatalf("%s lacks the families %s", args[0], strings.Join(missing, ", "))
	}
}

// promSeries is `family{label="value",...}`: the labels a series must have
// (it may have more).
var promSeries = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$`)
var promLabel = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"\s*$`)

// promvalue URL 'family{label="v",...}' VALUE [HEADER:VALUE...]: scrapes URL
// (sending the headers: a token) until the family's first series with those
// labels has VALUE (a gauge's or counter's value, a histogram's count), 10s
// at most: what Redis holds is read per scrape, and a count may trail the
// answer that made it by a moment. Name enough labels to pick one series.
func cmdPromValue(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: promvalue URL 'family{label=\"value\",...}' VALUE [HEADER:VALUE...]")
	}
	m := promSeries.FindStringSubmatch(args[1])
	if m == nil {
		ts.Fatalf("promvalue: %q is not family{label=\"value\",...}", args[1])
	}
	want := map[string]string{}
	if m[2] != "" {
		for _, pair := range strings.Split(m[2], ",") {
			l := promLabel.FindStringSubmatch(pair)
			if l == nil {
				ts.Fatalf("promvalue: %q is not label=\"value\"", pair)
			}
			want[l[1]] = l[2]
		}
	}
	value, err := strconv.ParseFloat(args[2], 64)
	ts.Check(err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := seriesValueAt(args[0], args[3:], m[1], want)
		if err == nil && got == value {
			break
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("its value is %g", got)
			}
			ts.Fatalf("waited 10s for %s = %s at %s: %v", args[1], args[2], args[0], err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintf(ts.Stdout(), "%s %s\n", args[1], args[2])
}

// seriesValueAt scrapes url (sending headers) and returns the value of the
// family's first series with the labels want.
func seriesValueAt(url string, headers []string, family string, want map[string]string) (float64, error) {
	families, err := scrape(url, headers)
	if err != nil {
		return 0, err
	}
	mf, ok := families[family]
	if !ok {
		return 0, fmt.Errorf("no family %s", family)
	}
	for _, metric := range mf.GetMetric() {
		if hasLabels(metric, want) {
			return seriesValue(metric), nil
		}
	}
	return 0, fmt.Errorf("no series of %s with those labels", family)
}

func hasLabels(metric *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range metric.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

func seriesValue(metric *dto.Metric) float64 {
	switch {
	case metric.Gauge != nil:
		return metric.GetGauge().GetValue()
	case metric.Counter != nil:
		return metric.GetCounter().GetValue()
	case metric.Histogram != nil:
		return float64(metric.GetHistogram().GetSampleCount())
	case metric.Untyped != nil:
		return metric.GetUntyped().GetValue()
	}
	return -1
}

// jsonkeys URL|FILE: prints the shape of a JSON document, one line per
// field: its path (object keys joined by ".", "[]" for an array's elements,
// every element's fields merged) and its JSON type, sorted. Two documents
// of the same shape print the same lines whatever their values. A URL is
// fetched (it must answer 200); anything else is a file of the script's.
func cmdJSONKeys(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: jsonkeys URL|FILE")
	}
	var b []byte
	if strings.HasPrefix(args[0], "http://") {
		c := &http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(args[0])
		ts.Check(err)
		defer resp.Body.Close()
		b, err = io.ReadAll(resp.Body)
		ts.Check(err)
		if resp.StatusCode != http.StatusOK {
			ts.Fatalf("GET %s: %s: %s", args[0], resp.Status, b)
		}
	} else {
		var err error
		b, err = os.ReadFile(ts.MkAbs(args[0]))
		ts.Check(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		ts.Fatalf("jsonkeys %s: not JSON: %v", args[0], err)
	}
	set := map[string]bool{}
	shapeOf("", doc, set)
	lines := make([]string, 0, len(set))
	for l := range set {
		lines = append(lines, l)
	}
	slices.Sort(lines)
	fmt.Fprintln(ts.Stdout(), strings.Join(lines, "\n"))
}

// shapeOf adds "path type" for v and everything inside it to set.
func shapeOf(path string, v any, set map[string]bool) {
	name := path
	if name == "" {
		name = "."
	}
	switch v := v.(type) {
	case map[string]any:
		set[name+" object"] = true
		for k, e := range v {
			shapeOf(path+"."+k, e, set)
		}
	case []any:
		set[name+" array"] = true
		for _, e := range v {
			shapeOf(path+"[]", e, set)
		}
	case string:
		set[name+" string"] = true
	case float64:
		set[name+" number"] = true
	case bool:
		set[name+" bool"] = true
	case nil:
		set[name+" null"] = true
	}
}
