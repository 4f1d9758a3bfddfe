package commands

import "github.com/spf13/cobra"

const exitCodesHelp = `Every haderctl command exits with one of these codes:

  0   ok
  1   the thing checked is not healthy: an open breaker with --fail-on-open,
      a breaker whose state in Redis is corrupt, operations that went dead
      during a queue drain, an unhealthy service (health check, health
      status --fail-on-unhealthy)
  2   usage or input error: unknown command or flag, bad argument, bad
      config file or environment variable, unknown breaker name,
      queue or service, invalid or oversized operation data, unknown
      priority, an invalid health URL or an interval below 1s
  3   Redis (or another dependency) unreachable or refusing, said in
      words: connection refused, timeout, authentication failed, an ACL
      denying a command (NOPERM), out of memory (OOM), a key the engine
      owns holding the wrong type (WRONGTYPE), CROSSSLOT, a database out of
      range, an untrusted TLS certificate, an unknown Sentinel master, a
      namespace written by a newer haderctl or with an unreadable schema
      version (breaker status then lists every breaker as unknown)
  4   refused by a chaos safety guard: chaos disabled or halted, the
      environment not allowed (unset or production), a limit reached
  75  breaker exec: refused by an open breaker, or one whose state in Redis
      is corrupt (sysexits EX_TEMPFAIL), so a script can tell "try later"
      from the command's own failure
  130 demo: interrupted by Ctrl-C (its experiments stopped, every part it
      started shut down)

breaker exec otherwise exits with the command's own code (127 when the
command cannot be started, 124 when --timeout kills it).

Errors are one line on stderr; stdout carries data only.`

// newHelpTopic makes a `haderctl help TOPIC` page: a command that does not
// run, listed under "Additional help topics".
func newHelpTopic(name, short, long string) *cobra.Command {
	return &cobra.Command{Use: name, Short: short, Long: long}
}
