// Package admin is the admin listener's handler: the seed's monitoring
// API, read from one snapshot per request, /metrics, and whatever the
// caller mounts beside them (the gateway's /livez and /readyz), behind
// one bearer-token check.
//
//	GET /api/v1/integrations/monitoring/circuit-breakers  = breaker status -o json
//	GET /api/v1/integrations/monitoring/queues            = queue status -o json
//	GET /api/v1/integrations/monitoring/health            = health status -o json
//	GET /api/v1/integrations/monitoring/chaos             = chaos status -o json
//	GET /api/v1/integrations/monitoring/routes            the gateways' traffic per route (last 60-70 s)
//	GET /metrics                                          Prometheus (internal/engine/metrics)
//
// Each document is built by the same snapshot function as its command,
// so the endpoint and the CLI cannot drift apart. The listener binds
// loopback by default; anywhere else the caller sets RequireToken, and
// every request must carry `Authorization: Bearer <token>`, compared in
// constant time.
package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/redact"
)

// Snapshotter reads the engine's state; *snapshot.Reader is one. Build
// it with Options.HealthSamples = snapshot.StatusHealthSamples so the
// health document matches the command's.
type Snapshotter = snapshot.Source

// DefaultTimeout bounds a request's snapshot when Options leave it zero.
const DefaultTimeout = 5 * time.Second

// TokenEnv is the environment variable the commands read the token from.
const TokenEnv = "HADERCTL_ADMIN_TOKEN"

// Options build a Handler.
type Options struct {
	// Reader serves the monitoring API; nil serves no monitoring routes.
	Reader Snapshotter
	// Metrics serves GET /metrics; nil serves none.
	Metrics http.Handler
	// Token, when set, is required of every request (Handle's and the
	// built-in routes; HandlePublic's are exempt). It is never logged.
	Token string
	// RequireToken makes an empty Token an error: set it when the
	// listener is not on loopback (IsLoopback).
	RequireToken bool
	// Timeout bounds each request's snapshot; zero means DefaultTimeout.
	Timeout time.Duration
	// Logger receives read failures; nil discards them.
	Logger *slog.Logger
}

// ErrTokenRequired is New's refusal to serve off loopback without a
// token (bad input: exit 2).
var ErrTokenRequired = errors.New("the admin listener is not on loopback: set " + TokenEnv + " to a bearer token, or listen on 127.0.0.1")

// Handler serves the admin routes.
type Handler struct {
	mux    *http.ServeMux
	token  []byte
	opts   Options
	public map[string]bool
}

// The monitoring API's paths.
const (
	PathCircuitBreakers = "/api/v1/integrations/monitoring/circuit-breakers"
	PathQueues          = "/api/v1/integrations/monitoring/queues"
	PathHealth          = "/api/v1/integrations/monitoring/health"
	PathChaos           = "/api/v1/integrations/monitoring/chaos"
	PathRoutes          = "/api/v1/integrations/monitoring/routes"
	PathMetrics         = "/metrics"
)

// New builds the handler; it refuses RequireToken without a Token (one
// of white space alone is none).
func New(o Options) (*Handler, error) {
	// the presented token is trimmed (authorized), so the configured one
	// is too: a secret file's trailing newline would otherwise refuse
	// every request
	o.Token = strings.TrimSpace(o.Token)
	if o.RequireToken && o.Token == "" {
		return nil, ErrTokenRequired
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{mux: http.NewServeMux(), token: []byte(o.Token), opts: o, public: map[string]bool{}}
	if o.Reader != nil {
		h.mux.HandleFunc("GET "+PathCircuitBreakers, h.document(snapshot.Filter{Parts: snapshot.Breakers},
			func(s *snapshot.Snapshot) any { return snapshot.Monitoring(s) }))
		h.mux.HandleFunc("GET "+PathQueues, h.document(snapshot.Filter{Parts: snapshot.Queues},
			func(s *snapshot.Snapshot) any { return snapshot.QueueTotals(s) }))
		h.mux.HandleFunc("GET "+PathHealth, h.document(snapshot.Filter{Parts: snapshot.Health, Events: snapshot.StatusAlertHistory},
			func(s *snapshot.Snapshot) any { return snapshot.HealthDocument(s) }))
		h.mux.HandleFunc("GET "+PathChaos, h.document(snapshot.Filter{Parts: snapshot.Chaos},
			func(s *snapshot.Snapshot) any { return snapshot.ChaosDocument(s) }))
		h.mux.HandleFunc("GET "+PathRoutes, h.document(snapshot.Filter{Parts: snapshot.Routes},
			func(s *snapshot.Snapshot) any { return snapshot.RoutesDocument(s) }))
	}
	if o.Metrics != nil {
		h.mux.Handle("GET "+PathMetrics, o.Metrics)
	}
	return h, nil
}

// Handle mounts h at pattern (Go 1.22 mux patterns) behind the token
// check.
func (h *Handler) Handle(pattern string, handler http.Handler) { h.mux.Handle(pattern, handler) }

// HandlePublic mounts h at pattern without the token check, for probes
// that reveal nothing (/livez, /readyz), which a kubelet or load
// balancer calls without credentials. pattern must name an exact path
// (no trailing-slash subtree, no wildcard), so nothing else escapes the
// check.
func (h *Handler) HandlePublic(pattern string, handler http.Handler) {
	h.mux.Handle(pattern, handler)
	p := pattern
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = p[i+1:]
	}
	h.public[p] = true
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(h.token) > 0 && !h.public[r.URL.Path] && !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="haderctl admin"`)
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: "a bearer token is required: send Authorization: Bearer <" + TokenEnv + ">", Cause: "unauthorized"})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized compares the bearer token in constant time (the length of
// the token is all a timing can tell).
func (h *Handler) authorized(r *http.Request) bool {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(cred)), h.token) == 1
}

// document serves one snapshot's document.
func (h *Handler) document(f snapshot.Filter, build func(*snapshot.Snapshot) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
		defer cancel()
		s, err := h.opts.Reader.Snapshot(ctx, f)
		if err != nil {
			if r.Context().Err() != nil {
				return // the client went away: nothing to answer
			}
			msg := redact.URLsIn(err.Error())
			h.opts.Logger.Warn("monitoring: reading the engine's state failed", "path", r.URL.Path, "error", msg)
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: msg, Cause: cause(err)})
			return
		}
		writeJSON(w, http.StatusOK, build(s))
	}
}

// errorBody is every error answer's JSON.
type errorBody struct {
	Error string `json:"error"`
	Cause string `json:"cause"`
}

// cause names why a read failed, in the words of the breakers'
// redis_unavailable policy.
func cause(err error) string {
	switch {
	case store.IsRefused(err):
		return "redis_refused"
	case store.IsUnavailable(err), errors.Is(err, context.DeadlineExceeded):
		return "redis_unavailable"
	}
	return "read_failed"
}

// writeJSON writes v as the CLI's exporter does (two-space indent, no
// HTML escaping), so a document's bytes equal the command's -o json.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// IsLoopback reports whether a listen address binds only loopback:
// "127.0.0.1:8001", "[::1]:8001" and "localhost:8001" do; ":8001",
// "0.0.0.0:8001" and a host name or other address do not.
func IsLoopback(listenAddr string) bool {
	host, _, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
