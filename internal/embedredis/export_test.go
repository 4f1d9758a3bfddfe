package embedredis

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2/server"
)

// Rejections records every command a client sends this server that
// miniredis would refuse as unknown: a command it has no handler for, a
// CLIENT subcommand other than the two it knows, or a HELLO of another
// protocol. Commands Lua's redis.call runs are dispatched the same way, so
// they are seen too. The clock's hook still runs first. It returns what was
// refused so far, as "CMD SUB".
func (s *Server) Rejections() (rejected func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := s.mini.Server()
	srv.SetPreHook(func(p *server.Peer, cmd string, args ...string) bool {
		s.clock.hook(p, cmd, args...)
		if why := refused(srv.IsRegisteredCommand(cmd), cmd, args); why != "" {
			mu.Lock()
			if !slices.Contains(seen, why) {
				seen = append(seen, why)
			}
			mu.Unlock()
		}
		return false // let miniredis answer it
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

func refused(known bool, cmd string, args []string) string {
	sub := ""
	if len(args) > 0 {
		sub = strings.ToUpper(args[0])
	}
	switch {
	case !known:
		return strings.TrimSpace(cmd + " " + sub)
	case cmd == "CLIENT" && sub != "SETNAME" && sub != "GETNAME":
		return cmd + " " + sub
	case cmd == "HELLO" && sub != "2" && sub != "3":
		return cmd + " " + sub
	}
	return ""
}

// Step is the clock's least time between two moves: how far TIME may lag.
func (s *Server) Step() time.Duration { return s.clock.currentStep() }
