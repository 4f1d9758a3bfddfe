package store

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
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
