package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RefusedError means Redis answered but would not serve haderctl: an ACL
// denied a command (NOPERM), the server is out of memory (OOM), a key the
// engine owns holds the wrong type (WRONGTYPE), a command spans Cluster
// slots (CROSSSLOT), the database does not exist, the server's TLS
// certificate is not trusted, Sentinel knows no such master, or
// authentication failed. Commands exit 3 on it, as on an unreachable Redis:
// either way the engine cannot use Redis until someone fixes it.
type RefusedError struct {
	// Addr is the redacted URL or address that refused.
	Addr string
	// Why is the cause in words.
	Why string
	Err error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("Redis at %s refused: %s", e.Addr, e.Why)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// CommandError is a Redis error reply to one command, with what the
// engine sent: the command's name, its keys and, for WRONGTYPE, the key
// found holding the wrong type (see the hook in Open). Its message is the
// server's, unchanged, so code matching reply prefixes still works.
//
// The wrong-typed key is looked up (TYPE round trips) only when the
// refusal is put in words: the engine takes many WRONGTYPE replies as
// data (a corrupt breaker in a snapshot, on every refresh) and must not
// pay for words nobody reads.
type CommandError struct {
	// Cmd is the command's name, upper case (EVALSHA for a script).
	Cmd string
	// Keys are the keys the command named.
	Keys []string
	Err  error

	once                   sync.Once
	lookup                 func() (key, held, want string)
	wrongKey, held, wanted string
}

// WrongType is the key holding another type than the engine keeps there
// and its type and the engine's, asking Redis on the first call; empty
// when not known or not a WRONGTYPE reply.
func (e *CommandError) WrongType() (key, held, want string) {
	e.once.Do(func() {
		if e.lookup != nil {
			e.wrongKey, e.held, e.wanted = e.lookup()
		}
	})
	return e.wrongKey, e.held, e.wanted
}

func (e *CommandError) Error() string { return e.Err.Error() }
func (e *CommandError) Unwrap() error { return e.Err }

// RedisError marks it a Redis reply, as go-redis' own errors are.
func (e *CommandError) RedisError() {}

// IsRefused reports whether err is Redis refusing to serve haderctl (see
// RefusedError), as opposed to a reply about the data or an unreachable
// server.
func IsRefused(err error) bool {
	_, ok := refusal(err, "")
	return ok
}

// IsFailure reports whether err means haderctl cannot use Redis at all:
// unreachable or refusing. `breaker exec` treats both alike.
func IsFailure(err error) bool { return IsUnavailable(err) || IsRefused(err) }

var (
	nopermCommand = regexp.MustCompile(`permissions to run the '([^']+)' command`)
	scriptSuffix  = regexp.MustCompile(` script: [0-9a-f]{40}, on @user_script:\d+\.?$`)
)

// refusal says in words why Redis refused, or ok false when err is not a
// refusal. addr is the redacted URL, for the database and master names.
func refusal(err error, addr string) (why string, ok bool) {
	if err == nil {
		return "", false
	}
	var re *RefusedError
	if errors.As(err, &re) {
		return re.Why, true
	}
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &verify) && errors.As(verify.Err, &unknownCA):
		return "its TLS certificate is not trusted (signed by an unknown authority): name the CA with tls_ca_file", true
	case errors.As(err, &hostErr):
		return "its TLS certificate is not valid for this host: " + hostErr.Error(), true
	case errors.As(err, &invalid):
		return "its TLS certificate is not valid: " + invalid.Error(), true
	case errors.As(err, &verify):
		return "its TLS certificate could not be verified: " + verify.Err.Error(), true
	}
	msg := err.Error()
	if strings.Contains(msg, "all sentinels specified in configuration are unreachable") && errors.Is(err, redis.Nil) {
		return fmt.Sprintf("no Sentinel knows a master named %q (check ?master= in the URL)", masterName(addr)), true
	}
	var certRefused *certRefusedError
	if errors.As(err, &certRefused) {
		return certRefused.why(), true
	}
	var reply redis.Error
	if !errors.As(err, &reply) || errors.Is(err, redis.Nil) {
		// TLS alerts from the server come as plain errors.
		switch {
		case strings.Contains(msg, "tls: certificate required"):
			return certRequiredWhy, true
		case strings.Contains(msg, "tls: unknown certificate authority"), strings.Contains(msg, "tls: bad certificate"):
			return certUntrustedWhy, true
		}
		return "", false
	}
	var ce *CommandError
	errors.As(err, &ce)
	msg = scriptSuffix.ReplaceAllString(reply.Error(), "")
	code, _, _ := strings.Cut(msg, " ")
	switch {
	case code == "WRONGPASS" || code == "NOAUTH" || strings.Contains(msg, "invalid password"):
		return "authentication failed (check the user and password in the URL)", true
	case code == "NOPERM" || strings.Contains(msg, "user executing the script can't run this command"):
		switch m := nopermCommand.FindStringSubmatch(msg); {
		case m != nil:
			return fmt.Sprintf("an ACL denied this user the %s command: %s", strings.ToUpper(m[1]), msg), true
		case ce != nil && (ce.Cmd == "EVALSHA" || ce.Cmd == "EVAL"):
			return fmt.Sprintf("an ACL denied this user a command that the engine's Lua script runs (%s over %s): %s", ce.Cmd, strings.Join(ce.Keys, ", "), msg), true
		case ce != nil:
			return fmt.Sprintf("an ACL denied this user the %s command over %s: %s", ce.Cmd, strings.Join(ce.Keys, ", "), msg), true
		}
		return "an ACL denied this user a command: " + msg, true
	case code == "OOM":
		return "it is out of memory (used memory is over maxmemory and its eviction policy refuses writes): free memory or raise maxmemory", true
	case code == "WRONGTYPE":
		var key, held, want string
		if ce != nil {
			key, held, want = ce.WrongType()
		}
		switch {
		case key != "":
			return fmt.Sprintf("key %s, which the engine owns, holds a %s, not a %s (WRONGTYPE): delete or rename it", key, held, want), true
		case ce != nil && len(ce.Keys) > 0:
			return fmt.Sprintf("a key the engine owns holds the wrong type of value (WRONGTYPE, %s over %s)", ce.Cmd, strings.Join(ce.Keys, ", ")), true
		}
		return "a key the engine owns holds the wrong type of value (WRONGTYPE)", true
	case code == "CROSSSLOT":
		return "a command's keys are in different Cluster slots (CROSSSLOT): a haderctl bug, please report it", true
	case strings.Contains(msg, "DB index is out of range"):
		return fmt.Sprintf("database %s does not exist on this server (ERR DB index is out of range): use one below its `databases` setting", dbOf(addr)), true
	case code == "READONLY":
		return "it is a read-only replica: point the URL at the master", true
	case code == "MISCONF":
		return "it cannot save to disk and refuses writes (MISCONF): see its log", true
	}
	return "", false
}

// masterName is the ?master= of a (redacted) Sentinel URL.
func masterName(addr string) string {
	if _, q, ok := strings.Cut(addr, "?"); ok {
		if v, err := url.ParseQuery(q); err == nil {
			return v.Get("master")
		}
	}
	return ""
}

// dbOf is the database number in a (redacted) URL's path.
func dbOf(addr string) string {
	_, rest, _ := strings.Cut(addr, "://")
	rest, _, _ = strings.Cut(rest, "?")
	if _, db, ok := strings.Cut(rest, "/"); ok && db != "" {
		return db
	}
	return "in the URL"
}

// commandHook names the command and keys in a Redis refusal, and finds the
// wrong-typed key of a WRONGTYPE reply, so messages can say which key.
type commandHook struct{ rdb redis.UniversalClient }

func (h *commandHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *commandHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		// The client sets the command's error from what this returns.
		return h.annotate(ctx, cmd, next(ctx, cmd))
	}
}

func (h *commandHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err == nil {
			return nil
		}
		first := err
		for _, cmd := range cmds {
			own := cmd.Err()
			if wrapped := h.annotate(ctx, cmd, own); wrapped != own {
				cmd.SetErr(wrapped)
				if first == err && errors.Is(err, own) {
					first = wrapped
				}
			}
		}
		return first
	}
}

// annotate wraps a refusal reply err to cmd in a CommandError.
func (h *commandHook) annotate(ctx context.Context, cmd redis.Cmder, err error) error {
	var reply redis.Error
	var done *CommandError
	if err == nil || !errors.As(err, &reply) || errors.As(err, &done) || errors.Is(err, redis.Nil) {
		return err
	}
	msg := err.Error()
	code, _, _ := strings.Cut(msg, " ")
	switch {
	case code == "WRONGTYPE", code == "NOPERM", code == "OOM", code == "CROSSSLOT":
	case code == "ERR" && strings.Contains(msg, "can't run this command"): // NOPERM inside a script
	default:
		return err
	}
	ce := &CommandError{Cmd: strings.ToUpper(cmd.Name()), Keys: cmdKeys(cmd), Err: err}
	if code == "WRONGTYPE" {
		// asked when put in words, maybe after ctx was cancelled
		lctx := context.WithoutCancel(ctx)
		ce.lookup = func() (string, string, string) {
			ctx, cancel := context.WithTimeout(lctx, 5*time.Second)
			defer cancel()
			return h.wrongTyped(ctx, ce.Keys)
		}
	}
	return ce
}

// cmdKeys are the keys of the commands the engine sends: the first
// argument, or a script's KEYS.
func cmdKeys(cmd redis.Cmder) []string {
	args := cmd.Args()
	name := strings.ToLower(cmd.Name())
	var keys []string
	switch {
	case name == "evalsha" || name == "eval" || name == "evalsha_ro" || name == "eval_ro":
		if len(args) < 3 {
			return nil
		}
		n, _ := args[2].(int)
		for i := 0; i < n && 3+i < len(args); i++ {
			keys = append(keys, fmt.Sprint(args[3+i]))
		}
	case len(args) > 1:
		keys = append(keys, fmt.Sprint(args[1]))
	}
	return keys
}

// wrongTyped asks for the type of each key and returns the first that
// holds another type than the engine keeps there.
func (h *commandHook) wrongTyped(ctx context.Context, keys []string) (key, held, want string) {
	if h.rdb == nil || len(keys) == 0 || ctx.Err() != nil {
		return "", "", ""
	}
	for _, k := range keys {
		want := TypeOf(k)
		if want == "" {
			continue
		}
		got, err := h.rdb.Type(ctx, k).Result()
		if err != nil {
			return "", "", ""
		}
		if got != "none" && got != want {
			return k, got, want
		}
	}
	return "", "", ""
}
