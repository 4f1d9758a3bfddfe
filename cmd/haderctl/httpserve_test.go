package main

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// fakeService is a real loopback HTTP service a script controls: its
// status, delay and body, and the requests it received.
type fakeService struct {
	mu     sync.Mutex
	status int
	delay  time.Duration
	body   string
	reqs   []map[string]any
}

type fakeServices struct {
	mu  sync.Mutex
	all map[string]*fakeService
}

// services is per script: keyed by the script's $WORK.
var scriptServices sync.Map

func servicesOf(ts *testscript.TestScript) *fakeServices {
	v, _ := scriptServices.LoadOrStore(ts.Getenv("WORK"), &fakeServices{all: map[string]*fakeService{}})
	return v.(*fakeServices)
}

func (s *fakeServices) get(ts *testscript.TestScript, name string) *fakeService {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.all[name]
	if !ok {
		ts.Fatalf("no service %s: start it with httpserve %s", name, name)
	}
	return svc
}

// httpserve [-tls] NAME: starts a loopback HTTP service for the rest of
// the script and exports its base URL as $NAME_URL (upper-cased). It
// answers 200 "ok" until httpset changes that. With -tls it serves HTTPS
// with a certificate of its own, written as PEM to $WORK/NAME-ca.pem
// (exported as $NAME_CA) for a client to trust.
func cmdHTTPServe(ts *testscript.TestScript, neg bool, args []string) {
	useTLS := len(args) == 2 && args[0] == "-tls"
	if useTLS {
		args = args[1:]
	}
	if neg || len(args) != 1 {
		ts.Fatalf("usage: httpserve [-tls] NAME")
	}
	svc := &fakeService{status: 200, body: "ok"}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h := map[string]string{}
		for k := range r.Header {
			h[k] = r.Header.Get(k)
		}
		svc.mu.Lock()
		svc.reqs = append(svc.reqs, map[string]any{"method": r.Method, "uri": r.RequestURI, "headers": h, "body": string(b)})
		status, delay, body := svc.status, svc.delay, svc.body
		svc.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay): // a slow service
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	if useTLS {
		srv.StartTLS()
		ca := ts.MkAbs(args[0] + "-ca.pem")
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
		ts.Check(os.WriteFile(ca, pemBytes, 0o644))
		ts.Setenv(strings.ToUpper(args[0])+"_CA", ca)
	} else {
		srv.Start()
	}
	ts.Defer(srv.Close)
	s := servicesOf(ts)
	s.mu.Lock()
	s.all[args[0]] = svc
	s.mu.Unlock()
	ts.Setenv(strings.ToUpper(args[0])+"_URL", srv.URL)
}

// httpset NAME status CODE | delay DURATION | body TEXT
func cmdHTTPSet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: httpset NAME status|delay|body VALUE")
	}
	svc := servicesOf(ts).get(ts, args[0])
	svc.mu.Lock()
	defer svc.mu.Unlock()
	switch args[1] {
	case "status":
		n, err := strconv.Atoi(args[2])
		ts.Check(err)
		svc.status = n
	case "delay":
		d, err := time.ParseDuration(args[2])
		ts.Check(err)
		svc.delay = d
	case "body":
		svc.body = args[2]
	default:
		ts.Fatalf("httpset: unknown setting %s", args[1])
	}
}

// httpreqs NAME: prints the requests NAME received, one JSON object per
// line: {"method", "uri", "headers", "body"}.
func cmdHTTPReqs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: httpreqs NAME")
	}
	svc := servicesOf(ts).get(ts, args[0])
	svc.mu.Lock()
	defer svc.mu.Unlock()
	enc := json.NewEncoder(ts.Stdout())
	enc.SetEscapeHTML(false) // a query's & reads as sent
	for _, r := range svc.reqs {
		ts.Check(enc.Encode(r))
	}
}

// httpcount NAME N: checks NAME received exactly N requests.
func cmdHTTPCount(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: httpcount NAME N")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	svc := servicesOf(ts).get(ts, args[0])
	svc.mu.Lock()
	got := len(svc.reqs)
	svc.mu.Unlock()
	if (got == want) == neg {
		ts.Fatalf("%s received %d requests, want %s%d", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// waitcount NAME N: waits until NAME has received N requests (10s at most):
// a request started with httpstart has reached it.
func cmdWaitCount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitcount NAME N")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	svc := servicesOf(ts).get(ts, args[0])
	poll(ts, args[0]+" receiving "+args[1]+" requests", func() bool {
		svc.mu.Lock()
		defer svc.mu.Unlock()
		return len(svc.reqs) >= want
	})
}
