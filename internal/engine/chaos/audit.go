package chaos

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// auditScanCap bounds how far back AuditOf looks: the stream is trimmed
// near 10,000 entries, so this reaches its start.
const auditScanCap = 12000

// auditChunk is how many entries one XREVRANGE of AuditOf reads.
const auditChunk = 500

// AuditOf returns up to limit of the latest audit entries about one
// experiment (its start, stop, expiry, refusals), oldest first. The stream
// holds every experiment's entries, so it pages back from the newest in
// chunks, at most through the whole capped stream. It reads only: an
// expiry no data plane has swept yet is not in it (Audit sweeps first).
func (c *Client) AuditOf(ctx context.Context, id string, limit int64) ([]AuditEntry, error) {
	if limit <= 0 {
		return []AuditEntry{}, nil
	}
	var newestFirst []AuditEntry
	end := "+"
	for scanned := 0; scanned < auditScanCap && int64(len(newestFirst)) < limit; {
		msgs, err := c.rdb.XRevRangeN(ctx, c.keys.ChaosAudit(), end, "-", auditChunk).Result()
		if err != nil && err != redis.Nil {
			return nil, err
		}
		for _, m := range msgs {
			if s, _ := m.Values["id"].(string); s == id {
				newestFirst = append(newestFirst, auditEntry(m))
				if int64(len(newestFirst)) == limit {
					break
				}
			}
		}
		scanned += len(msgs)
		if len(msgs) < auditChunk {
			break
		}
		end = "(" + msgs[len(msgs)-1].ID
	}
	out := make([]AuditEntry, len(newestFirst))
	for i, e := range newestFirst {
		out[len(newestFirst)-1-i] = e
	}
	return out, nil
}
