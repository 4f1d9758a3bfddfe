package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/haderos/haderctl/internal/redact"
	"github.com/redis/go-redis/v9"
)

// The URL forms haderctl accepts (documented in docs/configuration.md):
//
//	redis://[user:password@]host[:port][/db]            one server
//	rediss://[user:password@]host[:port][/db]           one server over TLS
//	unix://[user:password@]/path/to/redis.sock[?db=N]   a Unix socket
//	redis-sentinel://[user:password@]h1:p1,h2:p2[/db]?master=NAME[&sentinel_password=…]
//	rediss-sentinel://…                                 the same over TLS
//	redis-cluster://[user:password@]h1:p1[,h2:p2…]      Redis Cluster (one seed is enough)
//	rediss-cluster://…                                  the same over TLS
//
// Every form takes TLS query parameters (the config file's redis.tls_*
// fields are the same settings; the URL's win): tls_ca_file=PATH (PEM CAs
// to trust instead of the system's), tls_cert_file=PATH and
// tls_key_file=PATH (a client certificate), tls_insecure_skip_verify=true.
// The password in any of them never appears in a message: see redact.URL.

// ParseURL turns a Redis URL into options for go-redis' universal client,
// reading the TLS files its tls_* query parameters name. Its errors name
// the redacted URL, never the password.
func ParseURL(raw string) (*redis.UniversalOptions, error) {
	return parseURL(raw, TLSOptions{})
}

// CheckURL checks a URL and TLS settings as Open would use them: the
// URL's form and that the TLS files load.
func CheckURL(raw string, t TLSOptions) error {
	_, err := parseURL(raw, t)
	return err
}

// parseURL is ParseURL with TLS settings from elsewhere (the config file)
// under the URL's own tls_* parameters.
func parseURL(raw string, base TLSOptions) (*redis.UniversalOptions, error) {
	bad := func(why string) error {
		return fmt.Errorf("invalid Redis URL %q: %s", redact.URL(raw), redact.Scrub(why, redact.URLPasswords(raw)...))
	}
	rest, own, err := splitTLSParams(raw)
	if err != nil {
		return nil, bad(err.Error())
	}
	o, err := parseBareURL(rest, bad)
	if err != nil {
		return nil, err
	}
	t := own.over(base)
	if t.set() {
		if o.TLSConfig == nil {
			return nil, bad("the tls_* settings need a rediss://, rediss-sentinel:// or rediss-cluster:// URL")
		}
		if err := t.apply(o.TLSConfig); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// parseBareURL parses a URL without haderctl's own query parameters.
func parseBareURL(raw string, bad func(string) error) (*redis.UniversalOptions, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		// Not quoted: a value without a scheme may be a bare password.
		return nil, fmt.Errorf("invalid Redis URL: it must start with redis://, rediss://, unix://, redis-sentinel:// or redis-cluster://")
	}
	scheme = strings.ToLower(scheme)
	switch scheme {
	case "redis", "rediss", "unix":
		o, err := redis.ParseURL(raw)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				// net/url quotes the piece it choked on, which may be a
				// fragment of a password holding a delimiter: say why
				// without echoing any of it.
				return nil, bad("it does not parse as a URL (percent-encode any : / ? # @ in the user name or password)")
			}
			return nil, bad(strings.TrimPrefix(scrub(err.Error(), raw), "redis: "))
		}
		u := &redis.UniversalOptions{
			Addrs:     []string{o.Addr},
			DB:        o.DB,
			Username:  o.Username,
			Password:  o.Password,
			TLSConfig: o.TLSConfig,
		}
		if o.Network == "unix" {
			path := o.Addr
			u.Dialer = func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			}
		}
		return u, nil
	case "redis-sentinel", "rediss-sentinel", "redis-cluster", "rediss-cluster":
	default:
		return nil, bad("unknown scheme " + scheme)
	}

	// Multi-host forms: split by hand, since net/url has no notion of a host list.
	rest, query, _ := strings.Cut(rest, "?")
	hostPart, path, _ := strings.Cut(rest, "/")
	var user, pass string
	if at := strings.LastIndex(hostPart, "@"); at >= 0 {
		info := hostPart[:at]
		hostPart = hostPart[at+1:]
		u, p, hasPass := strings.Cut(info, ":")
		var err error
		if user, err = url.PathUnescape(u); err != nil {
			return nil, bad("the user name is not valid URL encoding")
		}
		if hasPass {
			if pass, err = url.PathUnescape(p); err != nil {
				return nil, bad("the password is not valid URL encoding")
			}
		}
	}
	var addrs []string
	for _, h := range strings.Split(hostPart, ",") {
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, "6379")
			if scheme == "redis-sentinel" || scheme == "rediss-sentinel" {
				h = h[:len(h)-len("6379")] + "26379"
			}
		}
		addrs = append(addrs, h)
	}
	if len(addrs) == 0 {
		return nil, bad("no host given")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, bad("the query string is not valid")
	}
	o := &redis.UniversalOptions{Addrs: addrs, Username: user, Password: pass}
	if strings.HasPrefix(scheme, "rediss") {
		host, _, _ := net.SplitHostPort(addrs[0])
		o.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if strings.HasSuffix(scheme, "-cluster") {
		if path != "" {
			return nil, bad("Redis Cluster has only database 0; remove the /db part")
		}
		o.IsClusterMode = true
		return o, nil
	}
	if path != "" {
		if o.DB, err = strconv.Atoi(path); err != nil || o.DB < 0 {
			return nil, bad("the database must be a whole number, not " + strconv.Quote(path))
		}
	}
	o.MasterName = q.Get("master")
	if o.MasterName == "" {
		return nil, bad("a sentinel URL needs ?master=NAME")
	}
	o.SentinelUsername = q.Get("sentinel_user")
	o.SentinelPassword = q.Get("sentinel_password")
	return o, nil
}

// scrub removes the raw URL (and so its password) from a library message.
func scrub(msg, raw string) string {
	return strings.ReplaceAll(msg, raw, redact.URL(raw))
}
