package writes

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/queue"
)

// TestTheStatusEndpointShowsAQueuedOperationWithSecretsRedacted follows
// a 202's Location: the operation's state, attempts, times and errors,
// with the credentials the route kept and the URLs' secrets masked.
func TestTheStatusEndpointShowsAQueuedOperationWithSecretsRedacted(t *testing.T) {
	e := newEnv(t)
	wr := e.writer(t, Options{KeepCredentials: func(route string) bool { return route == "shipping-rates" }})
	g := &gateway{wr: wr, lastErr: `Post "https://svc:hunter2@aramex.example/rates?token=t0k3n": Bearer client-secret refused`}
	g.down.Store(true)
	gw := serve(t, g)
	mux := http.NewServeMux()
	wr.Register(mux)
	admin := serve(t, mux)

	a := send(t, "POST", gw.URL+"/rates?api_key=qs-secret&to=RUH", "", []byte(`{"password":"p4ss","w":1}`),
		http.Header{"Authorization": {"Bearer client-secret"}, "Content-Type": {"application/json"}})
	if a.code != http.StatusAccepted {
		t.Fatalf("%d %s", a.code, a.body)
	}
	for _, secret := range []string{"hunter2", "t0k3n", "client-secret"} {
		if strings.Contains(string(a.body), secret) {
			t.Errorf("the 202 shows %q: %s", secret, a.body)
		}
	}
	st := send(t, "GET", admin.URL+a.header.Get("Location"), "", nil, nil)
	if st.code != http.StatusOK {
		t.Fatalf("status: %d %s", st.code, st.body)
	}
	for _, secret := range []string{"hunter2", "t0k3n", "client-secret", "qs-secret", "p4ss"} {
		if strings.Contains(string(st.body), secret) {
			t.Errorf("the status shows %q: %s", secret, st.body)
		}
	}
	var s Status
	if err := json.Unmarshal(st.body, &s); err != nil {
		t.Fatal(err)
	}
	id := a.header.Get(HeaderOperationID)
	if s.ID != id || s.Queue != "shipping" || s.State != "ready" || s.Attempts != 0 || s.Service != "aramex" ||
		s.Operation != "POST shipping-rates" || s.CreatedAt == nil || s.Request == nil || s.Request.Method != "POST" ||
		s.Request.Headers["Authorization"] != "***" || s.Request.BodyBytes != len(`{"password":"p4ss","w":1}`) {
		t.Fatalf("status %s", st.body)
	}

	// a failed replay: the attempt and its error show
	replay := queue.NewHTTPReplayer(http.DefaultTransport, time.Second, func(string) (queue.Service, bool) {
		return queue.Service{BaseURL: "http://127.0.0.1:1"}, true // nothing listens on port 1
	})
	if _, err := e.qc.Drain(context.Background(), queue.DrainOptions{Queues: []string{"shipping"}, Handler: replay.Handle,
		Jitter: func() float64 { return 0.5 }}); err != nil {
		t.Fatal(err)
	}
	// the index gone, the status is still found by looking through the queues
	if err := e.rdb.Del(context.Background(), e.keys.GatewayOperation(id)).Err(); err != nil {
		t.Fatal(err)
	}
	st = send(t, "GET", admin.URL+OperationsPath+id, "", nil, nil)
	s = Status{}
	if err := json.Unmarshal(st.body, &s); err != nil || st.code != http.StatusOK {
		t.Fatalf("status after a replay: %d %s", st.code, st.body)
	}
	if s.State != "delayed" || s.Attempts != 1 || s.NextAttemptAt == nil || s.LastError == "" {
		t.Fatalf("status after a failed replay: %s", st.body)
	}

	for path, code := range map[string]int{OperationsPath + "op-unknown": http.StatusNotFound, OperationsPath + "a%20b": http.StatusBadRequest} {
		r := send(t, "GET", admin.URL+path, "", nil, nil)
		if r.code != code || r.json(t)["error"] == nil {
			t.Errorf("GET %s: %d %s, want %d with a JSON error", path, r.code, r.body, code)
		}
	}
}

// TestTheOperationIndexHasABoundedTTL: one index key per queued write,
// kept for a replayed operation's life, not the dead set's 90 days.
func TestTheOperationIndexHasABoundedTTL(t *testing.T) {
	e := newEnv(t)
	g := &gateway{wr: e.writer(t, Options{})}
	g.down.Store(true)
	gw := serve(t, g)
	a := send(t, "POST", gw.URL+"/rates", "", []byte(`{}`), nil)
	if a.code != http.StatusAccepted {
		t.Fatalf("%d %s", a.code, a.body)
	}
	ttl := e.rdb.TTL(context.Background(), e.keys.GatewayOperation(a.header.Get(HeaderOperationID))).Val()
	s := e.qc.Settings()
	if max := s.Retention + time.Duration(s.MaxAttempts)*s.BackoffCap; ttl <= 0 || ttl > max {
		t.Fatalf("index TTL %v, want within (0, %v]", ttl, max)
	}
}
