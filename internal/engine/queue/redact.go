package queue

import (
	"encoding/json"

	"github.com/haderos/haderctl/internal/redact"
)

// Redact masks o's secrets in place, for output: the secret fields of its
// data and its secret headers, tokens in its URL and in its errors (which
// may quote a URL), and a raw request body whole, which cannot be vouched
// for field by field. The queue commands (unless --show-secrets) and the
// dashboard show operations through it. The request is copied before it
// is changed, so an operation that shares it with another is not touched.
func Redact(o *Operation) {
	o.Error, o.LastError = redact.URLsIn(o.Error), redact.URLsIn(o.LastError)
	if len(o.Data) > 0 {
		o.Data = json.RawMessage(redact.JSON(o.Data))
	}
	if o.Request != nil {
		r := *o.Request
		r.Headers = redact.Headers(r.Headers)
		r.URL = redact.HTTPURL(r.URL)
		if len(r.Body) > 0 {
			r.Body = []byte(redact.Mask)
		}
		o.Request = &r
	}
}
