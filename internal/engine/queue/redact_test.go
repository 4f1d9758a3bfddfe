package queue

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/haderos/haderctl/internal/redact"
)

// Redact masks every place an operation carries a secret and keeps the
// rest as it was; the request it had is left alone (it is copied).
func TestRedactMasksEverySecretOfAnOperation(t *testing.T) {
	req := &Request{Method: "POST", URL: "https://api.example.test/orders?token=s3cret-url-token",
		Headers: map[string]string{"Authorization": "Bearer s3cret-header", "X-Trace": "t-1"}, Body: []byte("password=s3cret-form")}
	o := &Operation{ID: "order-1", Data: json.RawMessage(`{"n":1,"api_key":"s3cret-key"}`), Request: req,
		Error:     `Post "https://u:s3cret-pw@shop.example.test/x": EOF`,
		LastError: `Get "https://api.example.test/y?access_token=s3cret-at": 503`}
	Redact(o)
	raw, _ := json.Marshal(o)
	if strings.Contains(string(raw), "s3cret") {
		t.Fatalf("a secret is left: %s", raw)
	}
	if o.Request.Headers["X-Trace"] != "t-1" || !strings.Contains(string(o.Data), `"n":1`) ||
		!strings.Contains(o.Request.URL, "api.example.test/orders") || string(o.Request.Body) != redact.Mask {
		t.Fatalf("more than the secrets changed: %s", raw)
	}
	if req.Headers["Authorization"] != "Bearer s3cret-header" || string(req.Body) != "password=s3cret-form" {
		t.Fatalf("the shared request was changed: %+v", req)
	}
}
