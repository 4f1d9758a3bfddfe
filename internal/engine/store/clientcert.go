package store

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// certRequiredWhy is what a server that demands a TLS client certificate
// (tls-auth-clients yes) is refusing us for.
const certRequiredWhy = "it requires a TLS client certificate: set tls_cert_file and tls_key_file"

// certRequiredError is a connection the server closed before it ever
// answered, after asking for a TLS client certificate haderctl did not
// have. With TLS 1.3 the client's handshake ends before the server judges
// the certificate, so its "certificate required" alert can be lost when
// the server closes at once (the client then reads EOF or a reset).
type certRequiredError struct{ err error }

func (e *certRequiredError) Error() string {
	return "tls: the server asked for a client certificate and closed the connection: " + e.err.Error()
}

// certWatch tells a server's certificate request from a plain closed
// connection: a client without a certificate records that the server
// asked (and sends none, as Go does by default), and a connection that
// then closes before its first reply is a certRequiredError.
type certWatch struct{ asked atomic.Bool }

// watchClientCert installs the watch in a TLS config without a client
// certificate; nil when there is nothing to watch.
func watchClientCert(tc *tls.Config) *certWatch {
	if tc == nil || len(tc.Certificates) > 0 || tc.GetClientCertificate != nil {
		return nil
	}
	w := &certWatch{}
	tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		w.asked.Store(true)
		return &tls.Certificate{}, nil
	}
	return w
}

func (w *certWatch) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			return c, err
		}
		return &certConn{Conn: c, w: w}, nil
	}
}

func (w *certWatch) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (w *certWatch) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// certConn is a connection whose end before any reply, after the server
// asked for a certificate, is reported as certRequiredError.
type certConn struct {
	net.Conn
	w        *certWatch
	answered bool // the server has sent something (read by one goroutine at a time)
}

func (c *certConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.answered = true
	}
	if err != nil && n == 0 && !c.answered && c.w.asked.Load() &&
		(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		return 0, &certRequiredError{err: err}
	}
	return n, err
}

// NetConn is the wrapped connection, as crypto/tls.Conn offers it.
func (c *certConn) NetConn() net.Conn { return c.Conn }
