package writes

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/luascript"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/redis/go-redis/v9"
)

// scripts are this part's Lua files, one per script (docs/redis-schema.md,
// "The scripts").
//
//go:embed lua/*.lua
var scripts embed.FS

// HeaderIdempotencyKey is the request header of the IETF httpapi
// idempotency draft; HeaderReplayed marks an answer given again for it.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderReplayed       = "Idempotent-Replayed"
)

// maxKeyLen is the draft's advice on a key's length; queue.ValidID is
// stricter still (the key becomes the operation id).
const maxKeyLen = 255

// KeyError is an Idempotency-Key the gateway refuses (400).
type KeyError struct{ Msg string }

func (e *KeyError) Error() string { return e.Msg }

// IdempotencyKey reads the request's Idempotency-Key: the draft's
// structured-field string ("abc", with \" and \\ escapes) or, as many
// clients send it, the bare value (abc). has is false when there is none.
// A key given twice, empty, too long, or not usable as an operation id
// (queue.ValidID) is a KeyError.
func IdempotencyKey(h http.Header) (key string, has bool, err error) {
	vs := h.Values(HeaderIdempotencyKey)
	if len(vs) == 0 {
		return "", false, nil
	}
	if len(vs) > 1 {
		return "", true, &KeyError{"Idempotency-Key is given more than once"}
	}
	v := strings.Trim(vs[0], " \t")
	if strings.HasPrefix(v, `"`) {
		if v, err = unquoteSFString(v); err != nil {
			return "", true, err
		}
	}
	if v == "" {
		return "", true, &KeyError{"Idempotency-Key is empty"}
	}
	if len(v) > maxKeyLen {
		return "", true, &KeyError{fmt.Sprintf("Idempotency-Key is %d bytes long: use at most %d", len(v), maxKeyLen)}
	}
	if err := queue.ValidID(v); err != nil {
		return "", true, &KeyError{"Idempotency-Key cannot be an operation id: " + err.Error()}
	}
	return v, true, nil
}

// unquoteSFString reads an RFC 8941 sf-string: printable ASCII between
// double quotes, where only \" and \\ are escapes.
func unquoteSFString(v string) (string, error) {
	bad := &KeyError{`Idempotency-Key is not a structured-field string: use "key" (printable ASCII, \" and \\ escaped) or a bare key`}
	if len(v) < 2 || v[len(v)-1] != '"' {
		return "", bad
	}
	var b strings.Builder
	for i := 1; i < len(v)-1; i++ {
		c := v[i]
		switch {
		case c == '\\':
			i++
			if i == len(v)-1 || (v[i] != '"' && v[i] != '\\') {
				return "", bad
			}
			b.WriteByte(v[i])
		case c == '"' || c < 0x20 || c > 0x7e:
			return "", bad
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// Fingerprint identifies a request for its key: the same key with another
// fingerprint is another request (422). It is the SHA-256 of the method,
// the route, the path and query as the client sent them, and the body.
func Fingerprint(method, route, requestURI string, body []byte) string {
	h := sha256.New()
	for _, part := range []string{method, route, requestURI} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Record states.
const (
	stateInFlight = "in_flight"
	stateAnswered = "answered"
)

// record is one key's record in Redis (docs/redis-schema.md, Gateway).
type record struct {
	Fingerprint string `json:"fingerprint"`
	State       string `json:"state"`
	// Owner is the claim's random token: only its request may change the
	// record (an in-flight claim that outlived its TTL may be another's).
	Owner string `json:"owner,omitempty"`
	// The kept answer.
	Status int                 `json:"status,omitempty"`
	Header map[string][]string `json:"header,omitempty"`
	Body   []byte              `json:"body,omitempty"`
	// OperationID and Queue are set when the answer is a queued 202.
	OperationID string    `json:"operation_id,omitempty"`
	Queue       string    `json:"queue,omitempty"`
	AnsweredAt  time.Time `json:"answered_at,omitzero"`
}

// claim takes the ticket's key with SET NX, or answers w from the record
// that holds it; done says it answered.
func (wr *Writer) claim(w http.ResponseWriter, ctx context.Context, t *Ticket) (done bool) {
	t.owner = newOwner()
	mine, _ := json.Marshal(record{Fingerprint: t.fingerprint, State: stateInFlight, Owner: t.owner})
	key := wr.o.Keys.GatewayIdempotency(t.key)
	// a record that expires between the SET and the GET is gone: claim again
	for try := 0; try < 3; try++ {
		old, err := wr.rdb.SetArgs(ctx, key, mine, redis.SetArgs{Mode: "NX", TTL: wr.o.InFlightTTL, Get: true}).Result()
		if errors.Is(err, redis.Nil) {
			return false
		}
		if err != nil {
			// proxying unclaimed could run the write twice: the client retries
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "the Idempotency-Key cannot be checked: Redis is unavailable", "")
			wr.o.Logger.Warn("gateway: an Idempotency-Key could not be claimed", "err", err)
			return true
		}
		var rec record
		if err := json.Unmarshal([]byte(old), &rec); err != nil || rec.Fingerprint == "" {
			writeError(w, http.StatusInternalServerError, "the Idempotency-Key's record in Redis is unreadable", t.key)
			return true
		}
		switch {
		case rec.Fingerprint != t.fingerprint:
			writeError(w, http.StatusUnprocessableEntity,
				"the Idempotency-Key was used for another request (method, path, query or body differ)", t.key)
		case rec.State == stateInFlight:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusConflict, "a request with this Idempotency-Key is still in flight", t.key)
		default:
			rec.replay(w)
		}
		return true
	}
	writeError(w, http.StatusServiceUnavailable, "the Idempotency-Key could not be claimed: try again", t.key)
	return true
}

// replay writes the kept answer again.
func (rec *record) replay(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range rec.Header {
		h[k] = v
	}
	h.Set(HeaderReplayed, "true")
	w.WriteHeader(rec.Status)
	_, _ = w.Write(rec.Body)
}

// settleScript changes a key's record only for the claim's owner: lua/settle.lua.
var settleScript = luascript.Load(scripts, "settle.lua")

// settle keeps rec as the key's answer, or frees the key when rec is nil.
func (wr *Writer) settle(ctx context.Context, t *Ticket, rec *record) {
	ctx, cancel := wr.detached(ctx)
	defer cancel()
	val := ""
	if rec != nil {
		rec.Fingerprint, rec.State = t.fingerprint, stateAnswered
		b, _ := json.Marshal(rec)
		val = string(b)
	}
	n, err := settleScript.Run(ctx, wr.rdb, []string{wr.o.Keys.GatewayIdempotency(t.key)}, t.owner, val,
		wr.o.AnswerTTL.Milliseconds()).Int()
	switch {
	case err != nil:
		wr.o.Logger.Warn("gateway: an Idempotency-Key's answer could not be kept; the key frees after its in-flight bound",
			"key", t.key, "err", err)
	case n == 0:
		wr.o.Logger.Warn("gateway: an Idempotency-Key's claim ended before its request did (in-flight bound); its answer is not kept",
			"key", t.key, "in_flight_ttl", wr.o.InFlightTTL.String())
	}
}

func newOwner() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
