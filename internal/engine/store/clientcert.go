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

// What a server that demands a TLS client certificate (tls-auth-clients
// yes) is refusing us for: none sent, or one it does not trust.
const (
	certRequiredWhy  = "it requires a TLS client certificate: set tls_cert_file and tls_key_file"
	certUntrustedWhy = "it does not trust haderctl's TLS client certificate (tls_cert_file)"
)

// certRefusedError is a connection the server closed before it ever
// answered, after asking for a TLS client certificate. With TLS 1.3 the
// client's handshake ends before the server judges the certificate, so
// its alert ("certificate required", "unknown certificate authority") can
// be lost when the server closes at once: the client reads EOF or a reset.
type certRefusedError struct {
	sent bool // haderctl sent a certificate (so it was not trusted)
	err  error
}

func (e *certRefusedError) Error() string {
	return "tls: the server asked for a client certificate and closed the connection: " + e.err.Error()
}

func (e *certRefusedError) why() string {
	if e.sent {
		return certUntrustedWhy
	}
	return certRequiredWhy
}

// certWatch tells a server's certificate request from a plain closed
// connection: the client records that the server asked (and answers as
// crypto/tls would: with its certificate, or none), and a connection that
// then closes before its first reply is a certRefusedError.
type certWatch struct {
	asked, sent atomic.Bool
}

// watchClientCert installs the watch in a TLS config (nil: not TLS, or a
// certificate callback of its own).
func watchClientCert(tc *tls.Config) *certWatch {
	if tc == nil || tc.GetClientCertificate != nil {
		return nil
	}
	w := &certWatch{}
	certs := tc.Certificates
	tc.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		w.asked.Store(true)
		// crypto/tls' own choice: the first certificate the request
		// supports, else none
		for i := range certs {
			if cri.SupportsCertificate(&certs[i]) == nil {
				w.sent.Store(true)
				return &certs[i], nil
			}
		}
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
	if err != nil && n == 0 && c.refused(err) {
		return 0, &certRefusedError{sent: c.w.sent.Load(), err: err}
	}
	return n, err
}

// Write reports the same refusal when the server's close reaches the
// client's first command instead (the server reset the connection before
// the client wrote: ECONNRESET or EPIPE on the write, the alert lost).
// The reader and the writer are one goroutine at a time in go-redis.
func (c *certConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil && c.refused(err) {
		return n, &certRefusedError{sent: c.w.sent.Load(), err: err}
	}
	return n, err
}

// refused tells whether err, on a connection that has had no reply, after
// the server asked for a certificate, is the server closing on us.
func (c *certConn) refused(err error) bool {
	return !c.answered && c.w.asked.Load() &&
		(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
}

// NetConn is the wrapped connection, as crypto/tls.Conn offers it.
func (c *certConn) NetConn() net.Conn { return c.Conn }
