package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// The fast access log must write exactly what slog's JSON handler writes
// for the same entry, so switching between them changes no consumer.
func TestAccessLoggerWritesSlogsJSON(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 12, 2, 5, 40, 0, 0, time.UTC),
		time.Date(2026, 12, 2, 5, 40, 1, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 7_000_000, time.FixedZone("x", 3*3600+1800)),
	}
	entries := []accessEntry{
		{method: "GET", path: "/upstream/", route: "upstream", provider: "upstream", status: 200, duration: 1234 * time.Microsecond},
		{method: "POST", path: "/api/v1/integrations/shipping/rates", route: "shipping", provider: "smsa", status: 202,
			duration: 0, fallback: true, queued: "op-1"},
		{method: "GET", path: "/a\"b\\c\n\r\t\x01<>&\u2028\u2029é\xff", route: "", provider: "", status: 499, duration: 12 * time.Second},
		{method: "PUT", path: "/x", route: "r", provider: "p", status: 503, duration: time.Microsecond},
		{method: "GET", path: "/y", route: "r", provider: "p", status: 200, duration: 100 * time.Hour},
	}
	for _, tm := range times {
		for i, e := range entries {
			e.time = tm
			var fast, want bytes.Buffer
			NewAccessLogger(&fast).Handler().(*accessLogHandler).write(&e)
			r := slog.NewRecord(tm, slog.LevelInfo, "request", 0)
			r.AddAttrs(e.attrs()...)
			if err := slog.NewJSONHandler(&want, nil).Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if fast.String() != want.String() {
				t.Errorf("entry %d at %s:\n got %s\nwant %s", i, tm, fast.String(), want.String())
			}
		}
	}
}

// Other records logged through the access logger are slog's own.
func TestAccessLoggerPassesOtherRecordsToSlog(t *testing.T) {
	var got bytes.Buffer
	l := NewAccessLogger(&got).With("k", "v")
	l.Info("hello", "n", 1)
	l.Debug("not at info")
	if s := got.String(); !bytes.Contains([]byte(s), []byte(`"msg":"hello","k":"v","n":1}`)) || bytes.Count(got.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("got %q", s)
	}
}
