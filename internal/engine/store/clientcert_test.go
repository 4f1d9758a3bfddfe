package store

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// A server that asked for a client certificate and closes before any
// reply refuses us for it, even when its TLS alert was lost (TLS 1.3);
// a connection that closes after a reply, or with no request made, is an
// outage as before.
func TestAConnectionClosedAfterACertificateRequestIsThatRefusal(t *testing.T) {
	tc := &tls.Config{}
	w := watchClientCert(tc)
	if w == nil || tc.GetClientCertificate == nil {
		t.Fatal("no watch installed in a config without a client certificate")
	}
	if watchClientCert(&tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return nil, nil }}) != nil {
		t.Fatal("a watch replaced a certificate callback of the caller's")
	}
	read := func(reply string) error {
		client, server := net.Pipe()
		go func() {
			if reply != "" {
				server.Write([]byte(reply))
			}
			server.Close()
		}()
		c := &certConn{Conn: client, w: w}
		defer c.Close()
		buf := make([]byte, 16)
		for {
			if _, err := c.Read(buf); err != nil {
				return err
			}
		}
	}
	if err := read(""); !errors.Is(err, io.EOF) {
		t.Fatalf("no certificate request yet: %v, want EOF", err)
	}
	if cert, err := tc.GetClientCertificate(&tls.CertificateRequestInfo{}); err != nil || len(cert.Certificate) != 0 {
		t.Fatalf("the watch must send no certificate: %v %v", cert, err)
	}
	err := read("")
	if why, ok := refusal(err, "rediss://127.0.0.1:6380"); !ok || why != certRequiredWhy {
		t.Fatalf("closed before any reply after a certificate request: %v (%q, %v), want the certificate refusal", err, why, ok)
	}
	if IsUnavailable(err) {
		t.Fatal("the certificate refusal is not an outage")
	}
	// a certificate was sent: then it is the one the server did not trust
	w.sent.Store(true)
	if why, ok := refusal(read(""), "rediss://127.0.0.1:6380"); !ok || why != certUntrustedWhy {
		t.Fatalf("closed before any reply after a certificate was sent: (%q, %v), want the untrusted-certificate refusal", why, ok)
	}
	if err := read("+OK\r\n"); !errors.Is(err, io.EOF) || strings.Contains(err.Error(), "certificate") {
		t.Fatalf("closed after a reply: %v, want a plain EOF", err)
	}
}

// The server's close can reach the client's first write instead of a
// read (the connection reset before the command went out): after a
// certificate request and before any reply, that is the same refusal.
func TestAWriteRefusedAfterACertificateRequestIsThatRefusal(t *testing.T) {
	tc := &tls.Config{}
	w := watchClientCert(tc)
	reset := &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)}
	pipe := &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}
	write := func(werr error) error {
		c := &certConn{Conn: failingConn{err: werr}, w: w}
		_, err := c.Write([]byte("*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"))
		return err
	}
	if err := write(reset); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("no certificate request yet: %v, want the reset itself", err)
	}
	if _, err := tc.GetClientCertificate(&tls.CertificateRequestInfo{}); err != nil {
		t.Fatal(err)
	}
	for _, werr := range []error{reset, pipe} {
		err := write(werr)
		if why, ok := refusal(err, "rediss://127.0.0.1:6380"); !ok || why != certRequiredWhy {
			t.Fatalf("write failed with %v after a certificate request: %v (%q, %v), want the certificate refusal", werr, err, why, ok)
		}
	}
	answered := &certConn{Conn: failingConn{err: reset}, w: w, answered: true}
	if _, err := answered.Write([]byte("PING")); !errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a reset after a reply: %v, want the plain reset", err)
	}
}

// failingConn is a connection whose every write fails with err.
type failingConn struct {
	net.Conn
	err error
}

func (f failingConn) Write([]byte) (int, error) { return 0, f.err }
func (f failingConn) Close() error              { return nil }
