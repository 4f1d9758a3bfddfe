package store

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// TLSOptions are the TLS settings of a rediss:// connection beyond the
// URL's scheme: the config file's redis.tls_* fields, or the URL's tls_*
// query parameters. Zero values keep Go's defaults (the system's CAs, no
// client certificate, verification on).
type TLSOptions struct {
	// CAFile is a PEM file of the CAs to trust instead of the system's.
	CAFile string `json:"tls_ca_file,omitempty" yaml:"tls_ca_file,omitempty"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// a server started with tls-auth-clients; both or neither.
	CertFile string `json:"tls_cert_file,omitempty" yaml:"tls_cert_file,omitempty"`
	KeyFile  string `json:"tls_key_file,omitempty" yaml:"tls_key_file,omitempty"`
	// InsecureSkipVerify trusts any server certificate: for tests only.
	InsecureSkipVerify bool `json:"tls_insecure_skip_verify,omitempty" yaml:"tls_insecure_skip_verify,omitempty"`
	// insecureSet says InsecureSkipVerify was given (a URL's false wins
	// over the config file's true).
	insecureSet bool
}

// tlsParams are the query parameters ParseURL takes for itself.
var tlsParams = []string{"tls_ca_file", "tls_cert_file", "tls_key_file", "tls_insecure_skip_verify"}

// splitTLSParams removes the tls_* query parameters from a URL, which
// go-redis' own parser would refuse, and returns them.
func splitTLSParams(raw string) (string, TLSOptions, error) {
	var t TLSOptions
	base, query, ok := strings.Cut(raw, "?")
	if !ok {
		return raw, t, nil
	}
	var kept []string
	for _, part := range strings.Split(query, "&") {
		name, value, _ := strings.Cut(part, "=")
		if !isTLSParam(name) {
			kept = append(kept, part)
			continue
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			return "", t, fmt.Errorf("the %s parameter is not valid URL encoding", name)
		}
		switch name {
		case "tls_ca_file":
			t.CAFile = v
		case "tls_cert_file":
			t.CertFile = v
		case "tls_key_file":
			t.KeyFile = v
		case "tls_insecure_skip_verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return "", t, fmt.Errorf("tls_insecure_skip_verify must be true or false, not %q", v)
			}
			t.InsecureSkipVerify, t.insecureSet = b, true
		}
	}
	if len(kept) == 0 {
		return base, t, nil
	}
	return base + "?" + strings.Join(kept, "&"), t, nil
}

func isTLSParam(name string) bool {
	for _, p := range tlsParams {
		if name == p {
			return true
		}
	}
	return false
}

// over is t with each unset setting taken from base.
func (t TLSOptions) over(base TLSOptions) TLSOptions {
	if t.CAFile == "" {
		t.CAFile = base.CAFile
	}
	if t.CertFile == "" && t.KeyFile == "" {
		t.CertFile, t.KeyFile = base.CertFile, base.KeyFile
	}
	if !t.insecureSet {
		t.InsecureSkipVerify = base.InsecureSkipVerify
	}
	return t
}

func (t TLSOptions) set() bool {
	return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify
}

// TLSFileError is a TLS file that is missing, unreadable or not what its
// setting needs (bad input: exit 2). It names the file, never its content.
type TLSFileError struct {
	Setting, Path, Why string
}

func (e *TLSFileError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Setting, e.Path, e.Why)
}

// apply loads the files into tc.
func (t TLSOptions) apply(tc *tls.Config) error {
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return &TLSFileError{"tls_ca_file", t.CAFile, fileWhy(err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return &TLSFileError{"tls_ca_file", t.CAFile, "holds no PEM certificate"}
		}
		tc.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		return &TLSFileError{"tls_cert_file", t.CertFile, "needs tls_key_file too"}
	case t.KeyFile != "" && t.CertFile == "":
		return &TLSFileError{"tls_key_file", t.KeyFile, "needs tls_cert_file too"}
	case t.CertFile != "":
		for _, f := range []struct{ setting, path string }{{"tls_cert_file", t.CertFile}, {"tls_key_file", t.KeyFile}} {
			if _, err := os.ReadFile(f.path); err != nil {
				return &TLSFileError{f.setting, f.path, fileWhy(err)}
			}
		}
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			// crypto/tls says what is wrong without quoting the files.
			return &TLSFileError{"tls_cert_file", t.CertFile, "with tls_key_file " + t.KeyFile + " is not a usable certificate and key: " + strings.TrimPrefix(err.Error(), "tls: ")}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	tc.InsecureSkipVerify = t.InsecureSkipVerify
	return nil
}

// fileWhy says why a file could not be read, without the path twice.
func fileWhy(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "is not readable (permission denied)"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "cannot be read: " + pe.Err.Error()
	}
	return "cannot be read: " + err.Error()
}
