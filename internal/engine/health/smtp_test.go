package health

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpServer is a minimal real SMTP server on loopback that offers
// STARTTLS with a self-signed certificate and keeps what it is sent.
type smtpServer struct {
	ln     net.Listener
	tlsCfg *tls.Config
	caFile string
	mu     sync.Mutex
	mails  []string
	auth   []string
	tlsOn  []bool
}

func newSMTPServer(t *testing.T) *smtpServer {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, caFile: caFile,
		tlsCfg: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *smtpServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *smtpServer) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	say := func(line string) { conn.Write([]byte(line + "\r\n")) }
	secure := false
	var auth string
	say("220 127.0.0.1 ESMTP test")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			if secure {
				say("250-127.0.0.1")
				say("250 AUTH PLAIN")
			} else {
				say("250-127.0.0.1")
				say("250 STARTTLS")
			}
		case cmd == "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(conn, s.tlsCfg)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, r, secure = tc, bufio.NewReader(tc), true
		case strings.HasPrefix(cmd, "AUTH PLAIN"):
			auth = strings.TrimSpace(line)[len("AUTH PLAIN "):]
			say("235 ok")
		case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"), cmd == "RSET", cmd == "NOOP":
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.mails, s.auth, s.tlsOn = append(s.mails, b.String()), append(s.auth, auth), append(s.tlsOn, secure)
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 unknown")
		}
	}
}

func TestEmailAlertIsSentOverSTARTTLSWithAuth(t *testing.T) {
	srv := newSMTPServer(t)
	p := EmailProvider{Host: "127.0.0.1", Port: srv.port(), Username: "alerts", Password: "smtp-pw",
		From: "haderctl@example.com", To: []string{"oncall@example.com"}, StartTLS: true, CAFile: srv.caFile}
	a := Alert{Service: "aramex", Kind: "fired", Message: "aramex is unhealthy: 3 consecutive failures: HTTP 503", At: time.Now()}
	if err := p.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.mails) != 1 || !srv.tlsOn[0] {
		t.Fatalf("mails %d, over TLS %v", len(srv.mails), srv.tlsOn)
	}
	if !strings.Contains(srv.mails[0], "Subject: [haderctl] aramex fired") || !strings.Contains(srv.mails[0], a.Message) {
		t.Fatalf("mail:\n%s", srv.mails[0])
	}
	if srv.auth[0] == "" {
		t.Fatal("no AUTH PLAIN after STARTTLS")
	}
	// an unreadable CA bundle fails the send, and the message has no password
	srv.mails = nil
	plain := p
	plain.CAFile = "/nonexistent"
	err := plain.Send(context.Background(), a)
	if err == nil || strings.Contains(err.Error(), "smtp-pw") {
		t.Fatalf("a bad CA file must fail without printing the password: %v", err)
	}
}
