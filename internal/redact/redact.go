// Package redact keeps secrets (Redis passwords, Authorization headers,
// tokens, webhook URLs) out of output and logs.
package redact

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Mask replaces a secret in output.
const Mask = "***"

// URL returns the URL with any password (in the user info or a
// sentinel_password parameter) replaced by "***".
func URL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	if at, colon := userInfo(rest); colon >= 0 {
		rest = rest[:colon+1] + Mask + rest[at:]
	}
	if i := strings.Index(rest, "sentinel_password="); i >= 0 {
		i += len("sentinel_password=")
		end := strings.IndexByte(rest[i:], '&')
		if end < 0 {
			end = len(rest) - i
		}
		rest = rest[:i] + Mask + rest[i+end:]
	}
	return scheme + "://" + rest
}

// URLPasswords returns the passwords in a URL as written, for scrubbing
// messages that may quote them.
func URLPasswords(raw string) []string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil
	}
	var out []string
	if at, colon := userInfo(rest); colon >= 0 {
		out = append(out, rest[colon+1:at])
	}
	if i := strings.Index(rest, "sentinel_password="); i >= 0 {
		v := rest[i+len("sentinel_password="):]
		v, _, _ = strings.Cut(v, "&")
		out = append(out, v)
	}
	return out
}

// userInfo finds the '@' ending the user info and the ':' before the
// password (-1 if none). The user info ends at the last '@': a password
// may hold '/', '?' or '#', and a Redis URL's host, path and query do not
// hold '@'.
func userInfo(rest string) (at, colon int) {
	at = strings.LastIndex(rest, "@")
	if at < 0 {
		return -1, -1
	}
	return at, strings.IndexByte(rest[:at], ':')
}

// secretWords mark a header or field name whose value is a secret.
var secretWords = []string{"authorization", "cookie", "token", "secret", "password", "passwd", "apikey", "api-key", "api_key", "key", "credential", "signature", "webhook"}

// IsSecretName reports whether a header or field of this name holds a
// secret: Authorization, Cookie, or any name containing token, key,
// secret, password, credential, signature or webhook.
func IsSecretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Headers returns a copy of h with secret values masked.
func Headers(h map[string]string) map[string]string {
	if h == nil {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if IsSecretName(k) {
			v = Mask
		}
		out[k] = v
	}
	return out
}

// Scrub removes every given secret from a message, also in the escaped
// form %q would give it (a last line of defence
// for errors from libraries that may quote what they were given).
func Scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		if len(s) >= 3 {
			msg = strings.ReplaceAll(msg, s, Mask)
			if q := strconv.Quote(s); q[1:len(q)-1] != s {
				msg = strings.ReplaceAll(msg, q[1:len(q)-1], Mask)
			}
			if u, err := url.PathUnescape(s); err == nil && u != s && len(u) >= 3 {
				msg = strings.ReplaceAll(msg, u, Mask)
			}
		}
	}
	return msg
}

// HTTPURL masks the secrets of an HTTP URL: the password in its user info
// and query parameters named like secrets (token, key, signature…).
func HTTPURL(raw string) string {
	if raw == "" {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		// It cannot be taken apart, so nothing in it can be vouched for.
		return Mask
	}
	changed := false
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Mask)
		changed = true
	}
	q := u.Query()
	for k := range q {
		if IsSecretName(k) {
			q.Set(k, Mask)
			changed = true
		}
	}
	if !changed {
		return raw
	}
	u.RawQuery = q.Encode()
	return strings.NewReplacer("%2A%2A%2A", Mask, "%2a%2a%2a", Mask).Replace(u.String())
}

// HTTPURLSecrets lists the secret values in an HTTP URL (see HTTPURL).
func HTTPURLSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out []string
	if p, has := u.User.Password(); has {
		out = append(out, p)
	}
	for k, vs := range u.Query() {
		if IsSecretName(k) {
			out = append(out, vs...)
		}
	}
	return out
}

// urlInText finds URLs quoted in a message: a scheme, "://", then up to
// the next space or quote.
var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]+`)

// URLsIn masks the secrets (HTTPURL) of every URL quoted in a message, for
// errors from libraries that print the URL they were given, or a form of
// it (net/http masks the password but keeps the query).
func URLsIn(msg string) string {
	if !strings.Contains(msg, "://") {
		return msg
	}
	return urlInText.ReplaceAllStringFunc(msg, HTTPURL)
}

// HeaderSecrets lists the values of secret headers (IsSecretName), and
// the credentials alone of a value like "Bearer tok": a message may quote
// either.
func HeaderSecrets(h map[string]string) []string {
	var out []string
	for k, v := range h {
		if IsSecretName(k) {
			out = append(out, v)
			if _, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
				out = append(out, strings.TrimSpace(cred))
			}
		}
	}
	return out
}
