package writes

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"

	"github.com/haderos/haderctl/internal/engine/queue"
)

// hopByHopHeaders are RFC 9110 §7.6.1's connection-specific headers (and
// the older ones proxies still strip, as httputil.ReverseProxy does):
// they belong to the client's connection to the gateway, not to the
// request. Proxy-Authorization is the client's credential for the
// gateway as its proxy (RFC 9110 §11.7.2): the live proxy never forwards
// it, so a replay never sends it, whatever a route keeps.
var hopByHopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// hopByHop is the set of header names to drop from h: the fixed ones and
// those its Connection header names.
func hopByHop(h http.Header) map[string]bool {
	drop := make(map[string]bool, len(hopByHopHeaders)+2)
	for _, k := range hopByHopHeaders {
		drop[k] = true
	}
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				drop[http.CanonicalHeaderKey(name)] = true
			}
		}
	}
	return drop
}

// notStored are request headers a queued write never keeps: the body's
// framing (the replay frames it anew), Expect, whose 100-continue the
// gateway already answered, and the forwarding headers a client sent:
// the live proxy (httputil's Rewrite) drops them, as a client can forge
// them, and says itself who the client was (forwardedFor).
var notStored = map[string]bool{"Host": true, "Content-Length": true, "Expect": true,
	"Forwarded": true, "X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true}

// forwardedFor sets what httputil.ProxyRequest.SetXForwarded sets on a
// proxied request: the client's address, the host it asked for and the
// scheme it used, so a replay tells the service what the live request
// would have.
func forwardedFor(r *http.Request, headers map[string]string) {
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		headers["X-Forwarded-For"] = ip
	}
	if r.Host != "" {
		headers["X-Forwarded-Host"] = r.Host
	}
	headers["X-Forwarded-Proto"] = "http"
	if r.TLS != nil {
		headers["X-Forwarded-Proto"] = "https"
	}
}

// credentialHeaders are dropped unless the route keeps credentials: a
// replay authenticates with the service's configured headers, and a
// client's session should not sit in Redis for days.
var credentialHeaders = map[string]bool{"Authorization": true, "Cookie": true}

// storedRequest is the request as it is queued: its method, target (the
// path and query under the service's base URL), its headers but for the
// hop-by-hop ones, Host, Content-Length, Expect, the client's own
// forwarding headers and (unless keepCredentials) the credentials, with
// the gateway's X-Forwarded-For/-Host/-Proto, and its body. Repeated headers are
// joined into one, as RFC 9110 §5.3 allows: with ", ", or "; " for
// Cookie (RFC 6265 §5.4). A body that is JSON, other than a bare null,
// is the operation's data, byte for byte (`queue inspect` shows it); any
// other body is the request's raw body and the data is null.
func storedRequest(r *http.Request, body []byte, target string, keepCredentials bool) (*queue.Request, json.RawMessage) {
	drop := hopByHop(r.Header)
	headers := make(map[string]string, len(r.Header))
	for k, vs := range r.Header {
		ck := http.CanonicalHeaderKey(k)
		if drop[ck] || notStored[ck] || (credentialHeaders[ck] && !keepCredentials) || len(vs) == 0 {
			continue
		}
		sep := ", "
		if ck == "Cookie" {
			sep = "; "
		}
		if prev, ok := headers[ck]; ok { // k and its canonical form both present
			vs = append([]string{prev}, vs...)
		}
		headers[ck] = strings.Join(vs, sep)
	}
	forwardedFor(r, headers)
	req := &queue.Request{Method: r.Method, URL: target, Headers: headers}
	switch {
	case len(body) == 0:
		return req, json.RawMessage("null")
	case json.Valid(body) && strings.TrimSpace(string(body)) != "null":
		return req, json.RawMessage(body)
	}
	req.Body = body
	return req, json.RawMessage("null")
}
