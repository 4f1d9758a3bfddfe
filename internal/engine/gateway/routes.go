package gateway

import (
	"cmp"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"time"
)

// table is one configuration compiled for the hot path: immutable once
// stored, swapped whole by Reload, so a request reads one pointer.
type table struct {
	// routes are longest prefix first; a service's own /<service>/ route
	// is among them.
	routes []*route
	// faults are the header-fault settings with defaults filled in.
	faults HeaderFaults
	// services are the services with a base URL, in config order.
	services []string
}

type route struct {
	name string // the metrics/log label
	// traffic is the route's name in the traffic kept in Redis
	// (routestats): its prefix as configured, "/<service>/" for a
	// service's own route
	traffic string
	prefix  string // without a trailing slash ("" for "/")
	strip   bool
	queue   string
	writes  []string
	// keepCreds keeps the client's credentials with a queued write.
	keepCreds bool
	// providers in order; maxBody is the smallest of theirs, as the one
	// buffered body must fit every fallback.
	providers []*provider
	maxBody   int64
}

// provider is one service as a route sends to it: its ReverseProxy is
// built once per configuration, never per request.
type provider struct {
	name    string
	target  *url.URL
	headers http.Header
	timeout time.Duration
	fail    failSet
	maxBody int64
	proxy   *httputil.ReverseProxy
}

// compile builds the table; c must have been validated.
func (g *Gateway) compile(c Config) *table {
	s := c.Settings
	t := &table{faults: s.HeaderFaults}
	if t.faults.MaxActiveFaults == 0 {
		t.faults.MaxActiveFaults = DefaultMaxActiveFaults
	}
	if t.faults.MaxDelay == 0 {
		t.faults.MaxDelay = DefaultMaxFaultDelay
	}
	providers := map[string]*provider{}
	for _, svc := range c.Services {
		if svc.BaseURL == "" {
			continue
		}
		target, _ := parseBaseURL(svc.BaseURL)
		p := &provider{name: svc.Name, target: target, timeout: cmp.Or(svc.Timeout, s.Timeout, DefaultTimeout),
			fail: newFailSet(svc.FailOn), maxBody: cmp.Or(svc.MaxRequestBytes, s.MaxRequestBytes, DefaultMaxRequestBytes)}
		if len(svc.Headers) > 0 {
			p.headers = http.Header{}
			for k, v := range svc.Headers {
				p.headers.Set(k, v)
			}
		}
		p.proxy = g.newProxy(p)
		providers[svc.Name] = p
		t.services = append(t.services, svc.Name)
		t.routes = append(t.routes, &route{name: svc.Name, traffic: "/" + svc.Name + "/", prefix: "/" + svc.Name, strip: true, queue: svc.Name,
			writes: DefaultQueueMethods, providers: []*provider{p}, maxBody: p.maxBody})
	}
	for _, r := range s.Routes {
		rt := &route{name: cmp.Or(r.Name, r.Prefix), traffic: r.Prefix, prefix: normPrefix(r.Prefix), strip: r.StripPrefix,
			queue: cmp.Or(r.Queue, r.Name, r.Providers[0]), writes: r.QueueMethods, keepCreds: r.KeepCredentials}
		if len(rt.writes) == 0 {
			rt.writes = DefaultQueueMethods
		}
		for _, name := range r.Providers {
			p := providers[name]
			rt.providers = append(rt.providers, p)
			if rt.maxBody == 0 || p.maxBody < rt.maxBody {
				rt.maxBody = p.maxBody
			}
		}
		// a written route wins over a service's own at the same prefix
		t.routes = slices.DeleteFunc(t.routes, func(o *route) bool { return o.prefix == rt.prefix })
		t.routes = append(t.routes, rt)
	}
	slices.SortStableFunc(t.routes, func(a, b *route) int { return cmp.Compare(len(b.prefix), len(a.prefix)) })
	return t
}

// match finds the longest prefix that ends at a path segment boundary:
// /api/shipping matches /api/shipping and /api/shipping/rates, not
// /api/shippingx.
func (t *table) match(path string) *route {
	for _, r := range t.routes {
		if strings.HasPrefix(path, r.prefix) && (len(path) == len(r.prefix) || path[len(r.prefix)] == '/' || r.prefix == "") {
			return r
		}
	}
	return nil
}

// upstreamPath is the path a provider gets: unchanged, or with the
// route's prefix stripped (at least "/").
func (r *route) upstreamPath(path string) string {
	if !r.strip {
		return path
	}
	rest := path[len(r.prefix):]
	if rest == "" {
		return "/"
	}
	return rest
}

// KeepsCredentials reports whether a route whose writes go to queue keeps
// the client's credentials with them (the write queue asks, by queue).
func (g *Gateway) KeepsCredentials(queue string) bool {
	for _, r := range g.table.Load().routes {
		if r.queue == queue && r.keepCreds {
			return true
		}
	}
	return false
}

func (r *route) isWrite(method string) bool { return slices.Contains(r.writes, method) }
