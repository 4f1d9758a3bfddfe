package redact

import (
	"strings"
	"testing"
)

func TestJSONMasksSecretFieldsAtAnyDepth(t *testing.T) {
	in := `{"order_id":7,"api_token":"t0k","customer":{"password":"pw","name":"Sara"},"lines":[{"secret":"s"}]}`
	out := string(JSON([]byte(in)))
	for _, leaked := range []string{"t0k", `"pw"`, `"s"`} {
		if strings.Contains(out, leaked) {
			t.Fatalf("%s leaks %s", out, leaked)
		}
	}
	for _, kept := range []string{`"order_id":7`, `"name":"Sara"`, `"api_token":"***"`} {
		if !strings.Contains(out, kept) {
			t.Fatalf("%s lost %s", out, kept)
		}
	}
	if got := string(JSON([]byte(`{"a":1}`))); got != `{"a":1}` {
		t.Fatalf("a document without secrets must come back unchanged: %s", got)
	}
	if got := string(JSON([]byte(`{"token": "x`))); got != `"***"` {
		t.Fatalf("broken JSON must come back masked whole: %s", got)
	}
}

func TestHTTPURLMasksPasswordAndSecretParameters(t *testing.T) {
	got := HTTPURL("https://u:p4ss@shop.example/api?access_token=abc&page=2")
	if strings.Contains(got, "p4ss") || strings.Contains(got, "abc") || !strings.Contains(got, "page=2") {
		t.Fatalf("HTTPURL: %s", got)
	}
	if HTTPURL("http://[::1") != Mask {
		t.Fatalf("an unparseable URL must be masked whole")
	}
}

func TestURLsInMasksEveryURLOfAMessage(t *testing.T) {
	msg := `Post "http://user:***@127.0.0.1:1/x?access_token=abc123&page=2": dial tcp 127.0.0.1:1: connect: connection refused; see https://h/y?api_key=k9k9`
	got := URLsIn(msg)
	for _, leaked := range []string{"abc123", "k9k9"} {
		if strings.Contains(got, leaked) {
			t.Fatalf("URLsIn leaks %s: %s", leaked, got)
		}
	}
	for _, kept := range []string{"page=2", "connection refused", `": dial tcp 127.0.0.1:1`} {
		if !strings.Contains(got, kept) {
			t.Fatalf("URLsIn lost %s: %s", kept, got)
		}
	}
	if plain := "HTTP 503 from http://h/x"; URLsIn(plain) != plain {
		t.Fatalf("a URL without secrets must stay as it is: %s", URLsIn(plain))
	}
}

func TestJSONSecretsListsSecretValuesAtAnyDepth(t *testing.T) {
	got := strings.Join(JSONSecrets([]byte(`{"order_id":4242,"api_token":"t0k","customer":{"password":"pw","pin":1234},"auth":{"secret_key":98765},"keys":["a1","b2"]}`)), ",")
	for _, want := range []string{"t0k", "pw", "98765", "a1", "b2"} {
		if !strings.Contains(got, want) {
			t.Fatalf("JSONSecrets misses %s: %s", want, got)
		}
	}
	if strings.Contains(got, "4242") || strings.Contains(got, "1234") {
		t.Fatalf("JSONSecrets lists values that are not secret: %s", got)
	}
	if JSONSecrets([]byte(`{"token": `)) != nil {
		t.Fatalf("broken JSON has no secrets to list")
	}
}
