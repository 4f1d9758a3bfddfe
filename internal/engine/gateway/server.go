package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// ReadyInterval is how often the gateway pings Redis for /readyz.
const ReadyInterval = time.Second

// readiness tracks whether Redis answers: /readyz reads it without a
// round trip, and each change is logged once. While Redis is down the
// gateway keeps proxying on the breakers' local fallback.
type readiness struct {
	redisUp atomic.Bool
	checked atomic.Bool
	// reloadErr is why the last reload was refused ("" once one took).
	reloadErr atomic.Pointer[string]
}

// ReloadRefused records a reload refused before it reached Reload (the
// file did not parse): /readyz shows it until a reload takes.
func (g *Gateway) ReloadRefused(err error) {
	msg := err.Error()
	g.ready.reloadErr.Store(&msg)
}

// WatchRedis pings Redis every interval until ctx ends, logging each
// change of reachability once. It pings once before returning's first
// wait, so /readyz is right from the start.
func (g *Gateway) WatchRedis(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = ReadyInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		g.checkRedis(ctx, interval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (g *Gateway) checkRedis(ctx context.Context, timeout time.Duration) {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	err := g.sys.Redis.Ping(pctx).Err()
	cancel()
	if ctx.Err() != nil {
		return
	}
	up := err == nil
	was := g.ready.redisUp.Swap(up)
	first := !g.ready.checked.Swap(true)
	switch {
	case !up && (was || first):
		g.log.Warn("gateway: Redis is unreachable; proxying on local breakers until it answers", "err", err)
	case up && !was && !first:
		g.log.Info("gateway: Redis answers again; breakers are shared again")
	}
}

// ReadyHandler serves /readyz: 200 when Redis answers and the config is
// loaded, 503 otherwise (still proxying, on local breakers).
func (g *Gateway) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loaded := g.table.Load() != nil
		redisUp := g.ready.redisUp.Load()
		doc := map[string]any{"ready": loaded && redisUp, "config": "loaded", "redis": "ok"}
		switch {
		case !g.ready.checked.Load():
			doc["redis"] = "not checked yet"
		case !redisUp:
			doc["redis"] = "unreachable"
			doc["breakers"] = "local (not shared) until Redis answers"
		}
		if !loaded {
			doc["config"] = "not loaded"
		}
		if msg := g.ready.reloadErr.Load(); msg != nil && *msg != "" {
			// still ready: the running config is kept
			doc["last_reload_refused"] = *msg
		}
		code := http.StatusOK
		if !(loaded && redisUp) {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, doc)
	})
}

// AdminHandler serves /livez and /readyz, and everything else from more
// (the monitoring API and /metrics, when given).
func (g *Gateway) AdminHandler(more http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"live": true})
	})
	mux.Handle("GET /readyz", g.ReadyHandler())
	if more != nil {
		mux.Handle("/", more)
	}
	return mux
}

// Serve serves h on ln until ctx ends, then stops accepting and lets the
// requests in flight finish within grace (after which their connections
// are closed). It returns nil on a clean shutdown.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		_ = srv.Close()
		err = errors.New("requests still in flight after the grace period were cut off")
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
