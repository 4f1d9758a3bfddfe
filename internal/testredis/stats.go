package testredis

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Stats are Redis' counters that benchmarks report per operation.
type Stats struct {
	// Commands counts every command, those run inside scripts included.
	Commands int64
	// Scripts counts EVAL/EVALSHA calls: round trips that run a script.
	Scripts int64
	// CPU is the server process' user + system CPU time (INFO cpu), the
	// honest cost: commandstats' usec counts a script's inner commands
	// twice (in the script and in their own line).
	CPU time.Duration
}

// ReadStats reads the counters (INFO commandstats and cpu).
func ReadStats(ctx context.Context, rdb redis.UniversalClient) (Stats, error) {
	var s Stats
	info, err := rdb.Info(ctx, "commandstats", "cpu").Result()
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch {
		case name == "used_cpu_user" || name == "used_cpu_sys":
			f, _ := strconv.ParseFloat(rest, 64)
			s.CPU += time.Duration(f * float64(time.Second))
		case strings.HasPrefix(name, "cmdstat_") && name != "cmdstat_info":
			for _, kv := range strings.Split(rest, ",") {
				if k, v, _ := strings.Cut(kv, "="); k == "calls" {
					n, _ := strconv.ParseInt(v, 10, 64)
					s.Commands += n
					if name == "cmdstat_evalsha" || name == "cmdstat_eval" {
						s.Scripts += n
					}
				}
			}
		}
	}
	return s, nil
}

// Sub is the difference s - before.
func (s Stats) Sub(before Stats) Stats {
	return Stats{Commands: s.Commands - before.Commands, Scripts: s.Scripts - before.Scripts, CPU: s.CPU - before.CPU}
}
