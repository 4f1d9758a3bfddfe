// Package routestats is the gateway's traffic per route, kept in Redis so
// that the dashboard (and any reader of the snapshot) sees every gateway
// process's requests, errors, fallbacks and queued writes per route.
package routestats

import "time"

// Stats is one route's traffic over the last Window, summed over every
// gateway process of the namespace.
type Stats struct {
	// Route is the route's prefix as configured ("/<service>/" for an
	// automatic route).
	Route string `json:"route"`
	// Window is the span the counts cover (ending at the snapshot's time).
	Window time.Duration `json:"window"`
	// Requests answered, Errors among them (5xx the gateway sent, upstream
	// failures included), Fallbacks (answered by a provider after the
	// first), Queued (writes stored in the fallback queue, 202).
	Requests  int64 `json:"requests"`
	Errors    int64 `json:"errors"`
	Fallbacks int64 `json:"fallbacks"`
	Queued    int64 `json:"queued"`
	// PerSecond is Requests / Window in seconds.
	PerSecond float64 `json:"per_second"`
	// ErrorPercent is Errors / Requests × 100, 0 without requests.
	ErrorPercent float64 `json:"error_percent"`
}
