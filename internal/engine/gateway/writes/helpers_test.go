package writes

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

// env is one namespace shared by the "gateway processes" of a test.
type env struct {
	keys store.Keys
	rdb  *redis.Client
	qc   *queue.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	rdb := testredis.Client(t)
	keys := store.Keys{Namespace: testredis.Namespace(t)}
	return &env{keys: keys, rdb: rdb, qc: queue.New(rdb, keys, queue.Settings{})}
}

// writer is one gateway process's Writer: its own Redis connection.
func (e *env) writer(t *testing.T, o Options) *Writer {
	t.Helper()
	o.Keys = e.keys
	if o.Queue == nil {
		o.Queue = func(string) string { return "shipping" }
	}
	rdb := testredis.Client(t)
	return New(rdb, queue.New(rdb, e.keys, queue.Settings{}), o)
}

// gateway is a minimal stand-in for package gateway's use of the hooks:
// Begin, Wrap, then either a plain proxy to upstream or, while down is
// set, Queue; then Finish.
type gateway struct {
	wr       *Writer
	upstream string
	down     atomic.Bool
	lastErr  string
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	t, done := g.wr.Begin(w, r, body, "shipping-rates")
	if done {
		return
	}
	defer t.Finish()
	out := t.Wrap(w)
	if g.down.Load() {
		if err := t.Queue(out, "aramex", r.URL.RequestURI(), g.lastErr); err != nil {
			writeError(out, http.StatusServiceUnavailable, "not queued: "+err.Error(), "")
		}
		return
	}
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, g.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if r.Context().Err() != nil {
			return // the client went away: no answer
		}
		writeError(out, http.StatusBadGateway, err.Error(), "")
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		out.Header()[k] = v
	}
	out.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(out, resp.Body)
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// answer is a response read whole.
type answer struct {
	code   int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(a.body, &doc); err != nil {
		t.Fatalf("answer %d %q is not JSON: %v", a.code, a.body, err)
	}
	return doc
}

func send(t *testing.T, method, url, key string, body []byte, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if key != "" {
		req.Header.Set(HeaderIdempotencyKey, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

func stats(t *testing.T, e *env, q string) queue.Stats {
	t.Helper()
	s, _, err := e.qc.Stats(context.Background(), []string{q})
	if err != nil {
		t.Fatal(err)
	}
	return s[0]
}

// writeTicket is package gateway's WriteTicket, copied: a Ticket must
// satisfy it for the gateway to take it.
type writeTicket interface {
	Wrap(w http.ResponseWriter) http.ResponseWriter
	Queue(w http.ResponseWriter, service, target, lastErr string) error
	Finish()
}

var _ writeTicket = (*Ticket)(nil)
