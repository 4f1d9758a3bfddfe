package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
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

	// Multi-host forms. go-redis' own parsers (ParseClusterURL,
	// ParseFailoverURL) read everything but the host list, which net/url
	// has no notion of: the hosts are split here, given their default port
	// (26379 for sentinels, where go-redis would use 6379), and handed to
	// them in their form, the first in the authority and the others as
	// addr= parameters. Two differences of ours stay by hand: the user info
	// of a sentinel URL is the master's (go-redis: the sentinels'), with
	// sentinel_user/sentinel_password for the sentinels; and master= is
	// our name of go-redis' master_name= (both are read).
	rest, query, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	userinfo, hostPart := "", authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, hostPart = authority[:at], authority[at+1:]
	}
	sentinel := strings.HasSuffix(scheme, "-sentinel")
	port := "6379"
	if sentinel {
		port = "26379"
	}
	withPort := func(h string) string {
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), port)
		}
		return h
	}
	var addrs []string
	for _, h := range strings.Split(hostPart, ",") {
		if h != "" {
			addrs = append(addrs, withPort(h))
		}
	}
	if len(addrs) == 0 {
		return nil, bad("no host given")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, bad("the query string is not valid")
	}
	// go-redis' own addr= parameters (after the host list) get the same
	// default port
	given := q["addr"]
	q.Del("addr")
	for _, a := range slices.Concat(addrs[1:], given) {
		if a != "" {
			q.Add("addr", withPort(a))
		}
	}
	base := "redis://"
	if strings.HasPrefix(scheme, "rediss") {
		base = "rediss://"
	}
	library := func(err error) error {
		var ue *url.Error
		if errors.As(err, &ue) {
			return bad("it does not parse as a URL (percent-encode any : / ? # @ in the user name or password)")
		}
		return bad(strings.TrimPrefix(err.Error(), "redis: "))
	}

	if !sentinel {
		if path != "" {
			return nil, bad("Redis Cluster has only database 0; remove the /db part")
		}
		if userinfo != "" {
			userinfo += "@"
		}
		co, err := redis.ParseClusterURL(base + userinfo + addrs[0] + "?" + q.Encode())
		if err != nil {
			return nil, library(err)
		}
		o := &redis.UniversalOptions{Addrs: co.Addrs, Username: co.Username, Password: co.Password, TLSConfig: co.TLSConfig,
			IsClusterMode: true, ClientName: co.ClientName, ReadOnly: co.ReadOnly, RouteByLatency: co.RouteByLatency,
			RouteRandomly: co.RouteRandomly, MaxRedirects: co.MaxRedirects}
		if o.TLSConfig != nil {
			o.TLSConfig.MinVersion = tls.VersionTLS12
		}
		return o, nil
	}

	if path != "" {
		if db, err := strconv.Atoi(path); err != nil || db < 0 {
			return nil, bad("the database must be a whole number, not " + strconv.Quote(path))
		}
	}
	master := q.Get("master")
	if master == "" {
		master = q.Get("master_name")
	}
	if master == "" {
		return nil, bad("a sentinel URL needs ?master=NAME")
	}
	q.Del("master")
	q.Set("master_name", master)
	if userinfo != "" {
		u, p, hasPass := strings.Cut(userinfo, ":")
		user, err := url.PathUnescape(u)
		if err != nil {
			return nil, bad("the user name is not valid URL encoding")
		}
		if user != "" {
			q.Set("username", user)
		}
		if hasPass {
			pass, err := url.PathUnescape(p)
			if err != nil {
				return nil, bad("the password is not valid URL encoding")
			}
			q.Set("password", pass)
		}
	}
	var sentinelAuth string
	if su, sp := q.Get("sentinel_user"), q.Get("sentinel_password"); su != "" || sp != "" {
		sentinelAuth = url.UserPassword(su, sp).String() + "@"
	}
	q.Del("sentinel_user")
	q.Del("sentinel_password")
	fo, err := redis.ParseFailoverURL(base + sentinelAuth + addrs[0] + "/" + path + "?" + q.Encode())
	if err != nil {
		return nil, library(err)
	}
	return &redis.UniversalOptions{Addrs: fo.SentinelAddrs, DB: fo.DB, Username: fo.Username, Password: fo.Password,
		MasterName: fo.MasterName, SentinelUsername: fo.SentinelUsername, SentinelPassword: fo.SentinelPassword,
		TLSConfig: fo.TLSConfig, ClientName: fo.ClientName, RouteByLatency: fo.RouteByLatency, RouteRandomly: fo.RouteRandomly,
		ReadOnly: fo.ReplicaOnly}, nil
}

// scrub removes the raw URL (and so its password) from a library message.
func scrub(msg, raw string) string {
	return strings.ReplaceAll(msg, raw, redact.URL(raw))
}
