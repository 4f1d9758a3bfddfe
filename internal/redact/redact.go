// Package redact keeps secrets (Redis passwords, Authorization headers,
// tokens, webhook URLs) out of output and logs.
package redact

import "strings"

// Mask replaces a secret in output.
const Mask = "***"

// URL returns the URL with any password (in the user info or a
// sentinel_password parameter) replaced by "***".
func URL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	hostEnd := len(rest)
	if i := strings.IndexAny(rest, "/?"); i >= 0 && !strings.HasPrefix(scheme, "unix") {
		hostEnd = i
	}
	if strings.HasPrefix(scheme, "unix") {
		// unix://user:pass@/path: the user info ends at the last '@' before the path.
		if i := strings.Index(rest, "@/"); i >= 0 {
			hostEnd = i + 1
		} else {
			hostEnd = 0
		}
	}
	host := rest[:hostEnd]
	if at := strings.LastIndex(host, "@"); at >= 0 {
		if user, _, hasPass := strings.Cut(host[:at], ":"); hasPass {
			host = user + ":***" + host[at:]
		}
	}
	tail := rest[hostEnd:]
	if i := strings.Index(tail, "sentinel_password="); i >= 0 {
		end := strings.IndexByte(tail[i:], '&')
		if end < 0 {
			end = len(tail) - i
		}
		tail = tail[:i] + "sentinel_password=***" + tail[i+end:]
	}
	return scheme + "://" + host + tail
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

// Scrub removes every given secret from a message (a last line of defence
// for errors from libraries that may quote what they were given).
func Scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		if len(s) >= 3 {
			msg = strings.ReplaceAll(msg, s, Mask)
		}
	}
	return msg
}
