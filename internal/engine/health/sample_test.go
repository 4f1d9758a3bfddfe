package health

import (
	"testing"
	"time"
)

func TestParseSampleReadsTheRecordScriptsLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Sample
		ok   bool
	}{
		{"1 12.5 200 1700000000123", Sample{OK: true, Latency: 12.5, Code: 200, At: time.UnixMilli(1700000000123)}, true},
		{"0 0.0 0 1700000000000", Sample{OK: false, Latency: 0, Code: 0, At: time.UnixMilli(1700000000000)}, true},
		{"0 1003.2 503 1", Sample{Latency: 1003.2, Code: 503, At: time.UnixMilli(1)}, true},
		{"1 12.5 200", Sample{}, false},
		{"1 12.5 200 17 extra", Sample{}, false},
		{"", Sample{}, false},
	} {
		got, ok := parseSample(tc.line)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseSample(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
	if n := testing.AllocsPerRun(100, func() { parseSample("1 12.5 200 1700000000123") }); n != 0 {
		t.Errorf("parseSample allocates %v times per line, want 0", n)
	}
}
