// Package store is the Redis plumbing every part of the engine shares: the
// connection (from a URL), the key schema, the schema version guard, and the
// classification of Redis errors into "unreachable" and the rest.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Options says how to reach Redis.
type Options struct {
	// URL is a Redis URL in one of the forms ParseURL accepts.
	URL string
	// Timeout bounds dialing and each read and write; zero means 5 s.
	Timeout time.Duration
	// PoolSize is the connection pool size; zero means go-redis' default.
	PoolSize int
	// TLS are TLS settings under the URL's own tls_* parameters (the
	// config file's redis.tls_* fields).
	TLS TLSOptions
}

func init() {
	// go-redis logs dial failures to stderr by itself; haderctl reports
	// errors once, as one line, through its own error path.
	redis.SetLogger(quiet{})
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Open builds a client for the URL. It does not dial: the first command does.
func Open(o Options) (redis.UniversalClient, error) {
	uo, err := parseURL(o.URL, o.TLS)
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	uo.DialTimeout = timeout
	uo.ReadTimeout = timeout
	uo.WriteTimeout = timeout
	uo.PoolTimeout = timeout
	// One retry: a command on a connection the server closed (a restart)
	// gets a fresh one, but an unreachable server fails within the timeout.
	uo.MaxRetries = 1
	uo.DialerRetries = 1
	uo.PoolSize = o.PoolSize
	uo.DisableIdentity = true
	// Redis 7.0 refuses CLIENT MAINT_NOTIFICATIONS: asking costs a round trip per connection.
	uo.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	watch := watchClientCert(uo.TLSConfig)
	rdb := redis.NewUniversalClient(uo)
	rdb.AddHook(&commandHook{rdb: rdb})
	if watch != nil {
		rdb.AddHook(watch)
	}
	return rdb, nil
}

// UnavailableError means Redis could not be reached or refused us
// (connection refused, timeout, authentication). Commands exit 3 on it.
type UnavailableError struct {
	// Addr is the redacted URL or address that failed.
	Addr string
	Err  error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("Redis at %s is unreachable: %s", e.Addr, describe(e.Err))
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// describe shortens a network error to its cause.
func describe(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return "connection closed by the server"
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// IsUnavailable reports whether err means Redis could not be reached or
// would not serve us, as opposed to a reply about the data.
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrClosed) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		// a bare errno is a net.Error too: only a network one counts (a
		// local file's EISDIR or ENOSPC is no Redis outage)
		if errno, ok := ne.(syscall.Errno); !ok || networkErrno(errno) {
			return true
		}
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	// An authentication failure is a refusal (Classify says so) but counts
	// here too: the engine's in-memory fallbacks cover it like an outage.
	msg := err.Error()
	for _, s := range []string{"WRONGPASS", "NOAUTH", "LOADING", "connection refused", "connection reset", "broken pipe", "i/o timeout", "MASTERDOWN", "CLUSTERDOWN", "no such host", "pool timeout"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// networkErrno is an errno of a connection that failed or broke.
func networkErrno(e syscall.Errno) bool {
	switch e {
	case syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN:
		return true
	}
	return false
}

// Classify wraps an error that means Redis refused us in a RefusedError
// and one that means it is unreachable in an UnavailableError, each naming
// addr; other errors are returned as they are. It is the one place where
// Redis failures get their words.
func Classify(err error, addr string) error {
	if err == nil {
		return nil
	}
	var ue *UnavailableError
	var re *RefusedError
	if errors.As(err, &ue) || errors.As(err, &re) {
		return err
	}
	if why, ok := refusal(err, addr); ok {
		return &RefusedError{Addr: addr, Why: why, Err: err}
	}
	if IsUnavailable(err) {
		return &UnavailableError{Addr: addr, Err: err}
	}
	return err
}
