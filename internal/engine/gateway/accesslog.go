package gateway

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// recorder is the client's ResponseWriter as the gateway answers through
// it: it remembers the status for the access log and the metrics.
type recorder struct {
	http.ResponseWriter
	start    time.Time
	status   int
	route    string
	traffic  string // the route's name in routestats
	provider string
	fallback bool
	queued   bool
	gone     bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (ReverseProxy's flushes) reach the
// server's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// statusClientClosed is logged for a client that left before an answer
// (nginx's 499): no status was sent.
const statusClientClosed = 499

// finish writes the access log entry, the request's metrics and its
// route's traffic (routestats: in memory, added to Redis every second). The path
// is logged without its query (queries may carry secrets), and no header
// is logged.
func (g *Gateway) finish(rec *recorder, r *http.Request) {
	d := time.Since(rec.start)
	status := rec.status
	if rec.gone && status == 0 {
		status = statusClientClosed
	}
	if rec.route != "" {
		if m := g.opts.Metrics; m != nil {
			m.Request(rec.route, rec.provider, status, d)
		}
		g.traffic.Record(rec.traffic, status, rec.fallback, rec.queued)
	}
	log := g.opts.AccessLog
	if log == nil || !log.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	e := accessEntry{time: time.Now(), method: r.Method, path: r.URL.EscapedPath(), route: rec.route, provider: rec.provider,
		status: status, duration: d, fallback: rec.fallback, queued: rec.Header().Get(HeaderOperationID)}
	if h, ok := log.Handler().(*accessLogHandler); ok {
		h.write(&e)
		return
	}
	log.LogAttrs(r.Context(), slog.LevelInfo, "request", e.attrs()...)
}

// attrs are the entry as slog attributes, for any other handler.
func (e *accessEntry) attrs() []slog.Attr {
	attrs := []slog.Attr{
		slog.String("method", e.method), slog.String("path", e.path), slog.String("route", e.route),
		slog.String("provider", e.provider), slog.Int("status", e.status),
		slog.Float64("duration_ms", float64(e.duration.Microseconds())/1000), slog.Bool("fallback", e.fallback),
	}
	if e.queued != "" {
		attrs = append(attrs, slog.String("queued", e.queued))
	}
	return attrs
}

// LogWriter buffers access log lines and writes them out every interval
// (and when the buffer fills, and on Close), so a busy gateway makes a
// write call per batch, not per request. Lines stay whole: the buffer is
// only ever written at line ends.
type LogWriter struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// NewLogWriter starts the flusher; Close stops it and flushes.
func NewLogWriter(w io.Writer, interval time.Duration) *LogWriter {
	l := &LogWriter{buf: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				l.Flush()
			}
		}
	}()
	return l
}

// Write takes one log record (slog's handlers write one per call).
func (l *LogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Available() < len(p) {
		_ = l.buf.Flush()
	}
	return l.buf.Write(p)
}

// Flush writes out what is buffered.
func (l *LogWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.buf.Flush()
}

// Close stops the flusher and writes out the rest.
func (l *LogWriter) Close() {
	close(l.stop)
	<-l.done
	l.Flush()
}
