package breaker

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Events returns up to limit most recent transitions, oldest first, of the
// named breakers (merged by stream ID, which orders them in Redis time).
func (e *Engine) Events(ctx context.Context, names []string, limit int64) ([]Event, error) {
	k := e.opts.Keys
	pipe := e.rdb.Pipeline()
	cmds := make([]*redis.XMessageSliceCmd, len(names))
	for i, n := range names {
		cmds[i] = pipe.XRevRangeN(ctx, k.BreakerEvents(n), "+", "-", limit)
	}
	if _, err := pipe.Exec(ctx); err != nil && !isDataError(err) {
		return nil, err
	}
	var out []Event
	for i, n := range names {
		msgs, err := cmds[i].Result()
		if err != nil {
			return nil, fmt.Errorf("breaker %s: event stream unreadable: %w", n, err)
		}
		for _, m := range msgs {
			out = append(out, eventFromStream(m))
		}
	}
	sort.Slice(out, func(i, j int) bool { return streamIDLess(out[i].ID, out[j].ID) })
	if int64(len(out)) > limit {
		out = out[int64(len(out))-limit:]
	}
	return out, nil
}

// Follow calls fn for every transition published from now on, of the named
// breakers (all of them when names is empty), until ctx is done. ready, if
// not nil, is closed once the subscription is live, so a caller can read
// the history afterwards without a gap and skip what it has seen by ID.
func (e *Engine) Follow(ctx context.Context, names []string, ready chan<- struct{}, fn func(Event)) error {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	sub := e.rdb.Subscribe(ctx, e.opts.Keys.BreakerChannel())
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return err
	}
	if ready != nil {
		close(ready)
	}
	msgs := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-msgs:
			if !ok {
				return nil
			}
			ev, err := decodeEventJSON([]byte(m.Payload))
			if err != nil || (len(want) > 0 && !want[ev.Name]) {
				continue
			}
			fn(ev)
		}
	}
}

func eventFromStream(m redis.XMessage) Event {
	s := func(k string) string { v, _ := m.Values[k].(string); return v }
	n := func(k string) int64 { v, _ := strconv.ParseInt(s(k), 10, 64); return v }
	return Event{ID: m.ID, Name: s("name"), From: State(s("from")), To: State(s("to")), Reason: s("reason"),
		Generation: n("generation"), Failures: n("failures"), Successes: n("successes"),
		At: time.UnixMilli(n("at")).UTC(), Host: s("host"), PID: int(n("pid")), User: s("user"),
		Action: s("action"), Changes: decodeChanges([]byte(s("changes"))),
		Since: unixMsOrZero(n("since")), Until: unixMsOrZero(n("until")), Calls: n("calls"), Reporter: s("reporter")}
}

// unixMsOrZero is a time in Unix ms, the zero time for 0 (a field absent).
func unixMsOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// streamIDLess orders Redis stream IDs ("ms-seq") numerically.
func streamIDLess(a, b string) bool {
	split := func(id string) (int64, int64) {
		for i := 0; i < len(id); i++ {
			if id[i] == '-' {
				ms, _ := strconv.ParseInt(id[:i], 10, 64)
				seq, _ := strconv.ParseInt(id[i+1:], 10, 64)
				return ms, seq
			}
		}
		ms, _ := strconv.ParseInt(id, 10, 64)
		return ms, 0
	}
	am, as := split(a)
	bm, bs := split(b)
	if am != bm {
		return am < bm
	}
	return as < bs
}
