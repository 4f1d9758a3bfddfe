package queue

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/luascript"
)

// MaxPage is the most operations one Page call returns.
const MaxPage = 1000

// pageScript reads one page of a state's ZSET after a cursor: lua/page.lua.
var pageScript = luascript.Load(scripts, "page.lua")

// Page returns up to n operations in one state (ready, delayed, leased —
// "inflight" is taken for leased — or dead) after cursor, in List's
// order, and the cursor of the next page: "" starts, and a returned ""
// means there is no more. The cursor is opaque to callers ("<score>
// <id>": ids hold no spaces). Operations whose entry is corrupt come back
// with State "corrupt", as from List. Nothing is redacted here: callers
// that show operations redact them.
func (c *Client) Page(ctx context.Context, q, state, cursor string, n int64) ([]*Operation, string, error) {
	if state == "inflight" {
		state = "leased"
	}
	key := c.stateKey(q, state)
	if key == "" {
		return nil, "", &InputError{"unknown state " + strconv.Quote(state) + ": use ready, delayed, inflight (leased) or dead"}
	}
	if n < 1 || n > MaxPage {
		return nil, "", &InputError{"invalid page size " + strconv.FormatInt(n, 10) + ": use 1 to " + strconv.Itoa(MaxPage)}
	}
	score, member := "", ""
	if cursor != "" {
		var ok bool
		score, member, ok = strings.Cut(cursor, " ")
		if _, err := strconv.ParseFloat(score, 64); !ok || err != nil || member == "" {
			return nil, "", &InputError{"invalid page cursor " + strconv.Quote(cursor)}
		}
	}
	// one more than asked: whether it comes back says if there is a next page
	raw, err := pageScript.Run(ctx, c.rdb, []string{key}, score, member, n+1).StringSlice()
	if err != nil {
		return nil, "", err
	}
	ids := make([]string, 0, len(raw)/2)
	scores := make([]string, 0, len(raw)/2)
	for i := 0; i+1 < len(raw); i += 2 {
		ids, scores = append(ids, raw[i]), append(scores, raw[i+1])
	}
	next := ""
	if int64(len(ids)) > n {
		ids, scores = ids[:n], scores[:n]
		next = scores[n-1] + " " + ids[n-1]
	}
	ops, err := c.load(ctx, q, ids)
	if err != nil {
		return nil, "", err
	}
	for i, o := range ops {
		f, _ := strconv.ParseFloat(scores[i], 64)
		o.inState(state, time.UnixMilli(int64(f)))
	}
	return ops, next, nil
}
