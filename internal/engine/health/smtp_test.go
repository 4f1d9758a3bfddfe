package health

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/testredis"
)

// smtpServer is a minimal real SMTP server on loopback that offers
// STARTTLS with a certificate from a test CA and keeps what it is sent.
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
	certs, err := testredis.NewCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certs.ServerCertFile, certs.ServerKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, caFile: certs.CAFile, tlsCfg: &tls.Config{Certificates: []tls.Certificate{cert}}}
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
