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
