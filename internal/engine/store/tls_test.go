package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haderos/haderctl/internal/testredis"
)

func TestTLSParametersWorkForEveryScheme(t *testing.T) {
	dir := t.TempDir()
	certs, err := testredis.NewCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	q := "tls_ca_file=" + certs.CAFile + "&tls_cert_file=" + certs.ClientCertFile + "&tls_key_file=" + certs.ClientKeyFile
	for _, raw := range []string{
		"rediss://:pw@127.0.0.1:6380/2?" + q,
		"rediss://127.0.0.1:6380/0?dial_timeout=3s&" + q,
		"rediss-sentinel://:pw@10.0.0.1:26379,10.0.0.2?master=main&" + q,
		"rediss-cluster://10.0.0.1:7000,10.0.0.2:7000?" + q,
	} {
		o, err := ParseURL(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if o.TLSConfig == nil || o.TLSConfig.RootCAs == nil || len(o.TLSConfig.Certificates) != 1 || o.TLSConfig.InsecureSkipVerify {
			t.Errorf("%s: TLS config %+v", raw, o.TLSConfig)
		}
	}
	o, err := ParseURL("rediss-cluster://10.0.0.1:7000?tls_insecure_skip_verify=true")
	if err != nil || !o.TLSConfig.InsecureSkipVerify {
		t.Fatalf("insecure: %v %+v", err, o)
	}
	// The config file's settings apply under the URL's own.
	o, err = parseURL("rediss://127.0.0.1:6380/0?tls_insecure_skip_verify=false", TLSOptions{CAFile: certs.CAFile, InsecureSkipVerify: true})
	if err != nil || o.TLSConfig.RootCAs == nil || o.TLSConfig.InsecureSkipVerify {
		t.Fatalf("merged: %v %+v", err, o.TLSConfig)
	}
}

func TestTLSFileErrorsNameTheFileNotItsContent(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(secret, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ raw, want string }{
		{"rediss://:pw@h:1/0?tls_ca_file=/no/such.pem", "tls_ca_file /no/such.pem: does not exist"},
		{"rediss://:pw@h:1/0?tls_ca_file=" + secret, "tls_ca_file " + secret + ": holds no PEM certificate"},
		{"rediss://:pw@h:1/0?tls_cert_file=" + secret, "tls_cert_file " + secret + ": needs tls_key_file too"},
		{"rediss://:pw@h:1/0?tls_cert_file=" + secret + "&tls_key_file=" + secret, "is not a usable certificate and key"},
		{"rediss://:pw@h:1/0?tls_insecure_skip_verify=maybe", `tls_insecure_skip_verify must be true or false, not "maybe"`},
		{"redis://:pw@h:1/0?tls_ca_file=/x", "the tls_* settings need a rediss://"},
		{"redis-cluster://:pw@h:1?tls_ca_file=/x", "the tls_* settings need a rediss://"},
	} {
		_, err := ParseURL(c.raw)
		if err == nil {
			t.Fatalf("%s: no error", c.raw)
		}
		if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, "hunter2") || strings.Contains(msg, ":pw@") {
			t.Errorf("%s: %q, want %q", c.raw, msg, c.want)
		}
	}
	var fe *TLSFileError
	if _, err := ParseURL("rediss://h:1/0?tls_ca_file=/no/such.pem"); !errors.As(err, &fe) || fe.Path != "/no/such.pem" {
		t.Errorf("want a TLSFileError naming the file, got %v", err)
	}
}
