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
	// ByCommand has each command's calls and usec, by lower-case name
	// ("evalsha", "client|setinfo").
	ByCommand map[string]CommandStat
}

// CommandStat is one command's line of INFO commandstats.
type CommandStat struct {
	Calls, Usec int64
}

// ReadStats reads the counters (INFO commandstats and cpu).
func ReadStats(ctx context.Context, rdb redis.UniversalClient) (Stats, error) {
	s := Stats{ByCommand: map[string]CommandStat{}}
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
		case strings.HasPrefix(name, "cmdstat_"):
			var st CommandStat
			for _, kv := range strings.Split(rest, ",") {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "calls":
					st.Calls, _ = strconv.ParseInt(v, 10, 64)
				case "usec":
					st.Usec, _ = strconv.ParseInt(v, 10, 64)
				}
			}
			s.ByCommand[strings.TrimPrefix(name, "cmdstat_")] = st
			if name == "cmdstat_info" {
				continue
			}
			s.Commands += st.Calls
			if name == "cmdstat_evalsha" || name == "cmdstat_eval" {
				s.Scripts += st.Calls
			}
		}
	}
	return s, nil
}

// Sub is the difference s - before.
func (s Stats) Sub(before Stats) Stats {
	return Stats{Commands: s.Commands - before.Commands, Scripts: s.Scripts - before.Scripts, CPU: s.CPU - before.CPU}
}
