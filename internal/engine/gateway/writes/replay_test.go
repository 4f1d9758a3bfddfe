package writes

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/queue"
)

// received is what the replay's upstream saw.
type received struct {
	method, path, rawQuery string
	header                 http.Header
	body                   []byte
}

// TestAQueuedWriteIsReplayedByteForByteByADrain stores writes through the
// package (JSON, a form, binary bytes) and replays them with a real queue
// drain: the upstream gets the client's method, path, raw query, headers
// (less the hop-by-hop ones and the credentials; the forwarding headers
// the gateway's, as the live proxy sends them) and body bytes.
func TestAQueuedWriteIsReplayedByteForByteByADrain(t *testing.T) {
	e := newEnv(t)
	g := &gateway{wr: e.writer(t, Options{})}
	g.down.Store(true)
	g.lastErr = "HTTP 503"
	gw := serve(t, g)

	got := make(chan received, 10)
	upstream := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), b}
	}))

	binary := []byte{0, 1, 2, 0xff, '\n', '\r', 0x7f, 0x80, '{'}
	cases := []struct {
		name, method, contentType string
		body                      []byte
	}{
		{"json", "POST", "application/json", []byte(" {\"weight\": 1.50, \"to\":\"Riyadh\"}\n")},
		{"form", "PUT", "application/x-www-form-urlencoded", []byte("a=1&b=%2F+x&b=2")},
		{"binary", "PATCH", "application/octet-stream", binary},
		{"json null is raw", "POST", "application/json", []byte("null")},
		{"empty", "DELETE", "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{
				"User-Agent":          {"shop-client/1.0"},
				"X-Multi":             {"one", "two"},
				"X-Request-Id":        {"r-" + c.name},
				"Authorization":       {"Bearer client-secret"},
				"Cookie":              {"session=abc"},
				"Connection":          {"X-Hop"},
				"X-Hop":               {"only for this connection"},
				"Proxy-Authorization": {"Basic cHJveHk="},
				// forged by the client: the gateway says who it is
				"X-Forwarded-For":   {"10.9.9.9"},
				"X-Forwarded-Host":  {"forged.example"},
				"X-Forwarded-Proto": {"https"},
				"Forwarded":         {"for=10.9.9.9"},
			}
			if c.contentType != "" {
				h.Set("Content-Type", c.contentType)
			}
			path := "/api/v1/integrations/shipping/rates/riyadh%2Fnorth"
			rawQuery := "carrier=aramex&x=%2F%20y&flag"
			a := send(t, c.method, gw.URL+path+"?"+rawQuery, "", c.body, h)
			if a.code != http.StatusAccepted {
				t.Fatalf("answer %d %s, want 202", a.code, a.body)
			}
			id := a.header.Get(HeaderOperationID)
			if a.header.Get("Location") != OperationsPath+id || id == "" {
				t.Fatalf("Location %q, %s %q", a.header.Get("Location"), HeaderOperationID, id)
			}

			replay := queue.NewHTTPReplayer(http.DefaultTransport, 5*time.Second, func(name string) (queue.Service, bool) {
				return queue.Service{BaseURL: upstream.URL}, name == "aramex"
			})
			s, err := e.qc.Drain(context.Background(), queue.DrainOptions{Queues: []string{"shipping"}, Handler: replay.Handle})
			if err != nil || s.Completed != 1 {
				t.Fatalf("drain: %+v %v", s, err)
			}
			r := <-got
			if r.method != c.method || r.path != path || r.rawQuery != rawQuery {
				t.Fatalf("replayed %s %s?%s, want %s %s?%s", r.method, r.path, r.rawQuery, c.method, path, rawQuery)
			}
			if !bytes.Equal(r.body, c.body) {
				t.Fatalf("replayed body %q, want %q", r.body, c.body)
			}
			want := map[string]string{"User-Agent": "shop-client/1.0", "X-Multi": "one, two", "X-Request-Id": "r-" + c.name,
				"Accept-Encoding": "gzip", // the test's Go client sent it
				// what the live proxy sets (SetXForwarded)
				"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": strings.TrimPrefix(gw.URL, "http://"), "X-Forwarded-Proto": "http"}
			if c.contentType != "" {
				want["Content-Type"] = c.contentType
			}
			if len(c.body) > 0 {
				want["Content-Length"] = strconv.Itoa(len(c.body))
			}
			for k, v := range want {
				if got := strings.Join(r.header.Values(k), ", "); got != v {
					t.Errorf("replayed %s: %q, want %q", k, got, v)
				}
			}
			for k := range r.header {
				if _, ok := want[k]; !ok {
					t.Errorf("replayed header %s: %q, which the stored request does not hold", k, r.header.Values(k))
				}
			}
		})
	}
}

// TestCredentialsAreKeptOnlyWhereTheRouteSaysSo checks the per-route
// option that stores the client's Authorization and Cookie.
func TestCredentialsAreKeptOnlyWhereTheRouteSaysSo(t *testing.T) {
	r, _ := http.NewRequest("POST", "http://gw/x", nil)
	r.Header["Authorization"] = []string{"Bearer t0k"}
	r.Header["Cookie"] = []string{"a=1", "b=2"}
	r.Header["Keep-Alive"] = []string{"timeout=5"}
	r.Header["Proxy-Authorization"] = []string{"Basic cHJveHk="}
	r.Header["Content-Length"] = []string{"0"}
	kept, _ := storedRequest(r, nil, "/x", true)
	if kept.Headers["Authorization"] != "Bearer t0k" || kept.Headers["Cookie"] != "a=1; b=2" {
		t.Fatalf("with credentials kept: %v", kept.Headers)
	}
	for _, hop := range []string{"Keep-Alive", "Proxy-Authorization"} {
		if _, ok := kept.Headers[hop]; ok {
			t.Fatalf("the hop-by-hop %s was stored: %v", hop, kept.Headers)
		}
	}
	dropped, _ := storedRequest(r, nil, "/x", false)
	delete(dropped.Headers, "X-Forwarded-Host")
	delete(dropped.Headers, "X-Forwarded-Proto")
	if len(dropped.Headers) != 0 {
		t.Fatalf("by default credentials are dropped, stored %v", dropped.Headers)
	}
}
