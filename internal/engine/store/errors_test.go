package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// needServer skips (or, in CI, fails) a test that starts its own
// redis-server.
func needServer(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if testredis.Required() {
			t.Fatal("HADERCTL_TEST_REQUIRE_REDIS is set: this test needs redis-server on PATH")
		}
		t.Skip("needs redis-server on PATH")
	}
}

func startServer(t *testing.T, extra ...string) *testredis.Server {
	t.Helper()
	needServer(t)
	s, err := testredis.StartServer(t.TempDir(), extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(true) })
	return s
}

func open(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	rdb, err := Open(Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// refused checks err classifies as a RefusedError whose words hold each
// of want, and never as "unreachable".
func refused(t *testing.T, err error, addr string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !IsRefused(err) || !IsFailure(err) {
		t.Fatalf("IsRefused(%v) = false", err)
	}
	var re *RefusedError
	c := Classify(err, addr)
	if !errors.As(c, &re) {
		t.Fatalf("Classify(%v) = %T %v, want a RefusedError", err, c, c)
	}
	msg := c.Error()
	if !strings.HasPrefix(msg, "Redis at "+addr+" refused: ") || strings.Contains(msg, "unreachable") {
		t.Errorf("message %q", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q does not say %q", msg, w)
		}
	}
}

var recordLike = redis.NewScript(`return redis.call('hincrby', KEYS[1], 'failures', 1)`)

func TestACLDenialNamesTheCommand(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	admin := open(t, s.URL())
	if err := admin.Do(ctx, "ACL", "SETUSER", "viewer", "on", ">pw", "~*", "+@all", "-set", "-hincrby").Err(); err != nil {
		t.Fatal(err)
	}
	viewer := open(t, "redis://viewer:pw@"+s.Addr+"/0")
	refused(t, viewer.Set(ctx, "hader:schema", "2", 0).Err(), "X", "an ACL denied this user the SET command")
	// Inside a script Redis does not say which command: name the script's call and keys.
	k := Keys{Namespace: "hader"}
	refused(t, recordLike.Run(ctx, viewer, []string{k.Breaker("shopify")}).Err(), "X",
		"an ACL denied this user a command that the engine's Lua script runs", "hader:breaker:{shopify}")
}

func TestOutOfMemoryIsARefusal(t *testing.T) {
	s := startServer(t, "--maxmemory", "1mb", "--maxmemory-policy", "noeviction")
	ctx := context.Background()
	rdb := open(t, s.URL())
	big := strings.Repeat("x", 256<<10)
	var err error
	for i := 0; i < 64 && err == nil; i++ {
		err = rdb.Set(ctx, "filler:"+string(rune('a'+i%26))+strings.Repeat("z", i), big, 0).Err()
	}
	refused(t, err, "X", "out of memory", "maxmemory")
	refused(t, recordLike.Run(ctx, rdb, []string{"hader:breaker:{x}"}).Err(), "X", "out of memory")
}

func TestWrongTypedKeyIsNamed(t *testing.T) {
	rdb := open(t, testredis.URL(t))
	if !testredis.Real(t) {
		t.Skip("miniredis runs Lua without redis.call's error replies")
	}
	ctx := context.Background()
	k := Keys{Namespace: testredis.Namespace(t)}
	rdb.Set(ctx, k.Breaker("shopify"), "planted", 0)
	refused(t, recordLike.Run(ctx, rdb, []string{k.Breaker("shopify")}).Err(), "X",
		"key "+k.Breaker("shopify")+", which the engine owns, holds a string, not a hash (WRONGTYPE)")
	rdb.HSet(ctx, k.Queues(), "orders", "1")
	refused(t, rdb.SAdd(ctx, k.Queues(), "orders").Err(), "X", "key "+k.Queues()+", which the engine owns, holds a hash, not a set")
	p := rdb.Pipeline()
	p.SAdd(ctx, k.Queues(), "orders")
	_, err := p.Exec(ctx)
	refused(t, err, "X", "key "+k.Queues()+", which the engine owns")
}

func TestDatabaseOutOfRangeIsARefusal(t *testing.T) {
	url := "redis://" + startServer(t).Addr + "/99"
	refused(t, open(t, url).Ping(context.Background()).Err(), url, "database 99 does not exist")
}

func TestWrongPasswordIsAuthenticationFailure(t *testing.T) {
	s := startServer(t, "--requirepass", "right-pw")
	ctx := context.Background()
	err := open(t, "redis://:wrong-pw@"+s.Addr+"/0").Ping(ctx).Err()
	refused(t, err, "redis://:***@"+s.Addr+"/0", "authentication failed")
	if strings.Contains(Classify(err, "X").Error(), "wrong-pw") {
		t.Fatal("the password is in the message")
	}
	refused(t, open(t, "redis://"+s.Addr+"/0").Ping(ctx).Err(), "X", "authentication failed")
}

func TestUntrustedCertificateIsARefusal(t *testing.T) {
	needServer(t)
	dir := t.TempDir()
	certs, err := testredis.NewCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := testredis.StartTLSServer(dir, certs, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(true) })
	refused(t, open(t, s.URL()).Ping(context.Background()).Err(), s.URL(), "TLS certificate is not trusted", "tls_ca_file")
}

func TestUnknownSentinelMasterIsNamed(t *testing.T) {
	needServer(t)
	dir := t.TempDir()
	sen, err := testredis.StartSentinel(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sen.Stop(true) })
	url := "redis-sentinel://" + sen.Addr + "?master=nosuch"
	refused(t, open(t, url).Ping(context.Background()).Err(), url, `no Sentinel knows a master named "nosuch"`)
}

func TestCrossSlotIsARefusal(t *testing.T) {
	url := testredis.ClusterURL(t)
	rdb := open(t, url)
	ctx := context.Background()
	ns := testredis.Namespace(t)
	p := rdb.TxPipeline()
	p.Set(ctx, ns+":a", "1", 0)
	p.Set(ctx, ns+":b", "1", 0)
	_, err := p.Exec(ctx)
	refused(t, err, url, "different Cluster slots (CROSSSLOT)")
}

func TestRepliesAboutDataAreNotRefusals(t *testing.T) {
	for _, err := range []error{redis.Nil, errors.New("boom"), context.Canceled} {
		if IsRefused(err) {
			t.Errorf("IsRefused(%v) = true", err)
		}
	}
}

func TestTypeOfMatchesTheKeyBuilders(t *testing.T) {
	k := Keys{Namespace: "hader:staging"}
	for _, c := range []struct{ key, want string }{
		{k.Schema(), "string"},
		{k.Breakers(), "set"},
		{k.Breaker("shopify"), "hash"},
		{k.BreakerProbes("shopify"), "zset"},
		{k.BreakerEvents("shopify"), "stream"},
		{k.Queues(), "set"},
		{k.Queue("orders"), "hash"},
		{k.QueueReady("orders"), "zset"},
		{k.QueueDelayed("orders"), "zset"},
		{k.QueueLeased("orders"), "zset"},
		{k.QueueDead("orders"), "zset"},
		{k.QueueOps("orders"), "hash"},
		{k.QueueLeases("orders"), "hash"},
		{k.QueueErrors("orders"), "hash"},
		{k.QueueDone("orders"), "list"},
		{k.HealthServices(), "hash"},
		{k.Health("api"), "hash"},
		{k.HealthSlot("api"), "string"},
		{k.HealthHours("api"), "hash"},
		{k.HealthRecent("api"), "list"},
		{k.HealthAlerts("api"), "stream"},
		{k.ChaosState(), "hash"},
		{k.ChaosExperiment("ch-1"), "string"},
		{k.ChaosActive(), "zset"},
		{k.ChaosStarts(), "zset"},
		{k.ChaosAudit(), "stream"},
		{k.ChaosImpact("baseline:shopify"), "hash"},
		{"somebody:else", ""},
	} {
		if got := TypeOf(c.key); got != c.want {
			t.Errorf("TypeOf(%q) = %q, want %q", c.key, got, c.want)
		}
	}
}

// typeCounter counts the TYPE commands a client sends.
type typeCounter struct{ n atomic.Int32 }

func (c *typeCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *typeCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "type" {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *typeCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A WRONGTYPE reply the engine takes as data (a snapshot shows a
// wrong-typed breaker as corrupt, on every refresh; the gateway admits
// through such a breaker on every request) costs no extra round trip:
// the wrong-typed key is looked up only when the refusal is put in words.
func TestAWrongTypeReplyCostsNoTypeRoundTripUntilWorded(t *testing.T) {
	rdb := open(t, testredis.URL(t))
	var types typeCounter
	rdb.AddHook(&types)
	ctx := context.Background()
	k := Keys{Namespace: testredis.Namespace(t)}
	rdb.Set(ctx, k.Breaker("shopify"), "planted", 0)
	rdb.Set(ctx, k.Breakers(), "planted", 0)
	err := rdb.HGetAll(ctx, k.Breaker("shopify")).Err()
	p := rdb.Pipeline()
	for range 20 {
		p.HGetAll(ctx, k.Breaker("shopify"))
		p.SIsMember(ctx, k.Breakers(), "shopify")
	}
	if _, perr := p.Exec(ctx); perr == nil || !strings.HasPrefix(perr.Error(), "WRONGTYPE") {
		t.Fatalf("pipeline: %v, want WRONGTYPE", perr)
	}
	if n := types.n.Load(); n != 0 {
		t.Fatalf("%d TYPE round trips for WRONGTYPE replies nobody put in words, want 0", n)
	}
	refused(t, err, "X", "key "+k.Breaker("shopify")+", which the engine owns, holds a string, not a hash (WRONGTYPE)")
	if n := types.n.Load(); n != 1 {
		t.Fatalf("%d TYPE round trips to word one refusal, want 1", n)
	}
}

// A local I/O error is not Redis being unreachable, though its errno is a
// net.Error to errors.As: `queue push --data - < dir` said "Redis at ...
// is unreachable: reading --data from stdin: ... is a directory", exit 3.
func TestALocalIOErrorIsNotRedisUnreachable(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("reading --data from stdin: %w", &os.PathError{Op: "read", Path: "/dev/stdin", Err: syscall.EISDIR}),
		fmt.Errorf("writing the audit file: %w", &os.PathError{Op: "write", Path: "audit", Err: syscall.ENOSPC}),
		&os.PathError{Op: "open", Path: "x.yaml", Err: syscall.ENOENT},
	} {
		if IsUnavailable(err) || IsFailure(err) {
			t.Errorf("IsUnavailable(%v) = true", err)
		}
		if c := Classify(err, "X"); c != err {
			t.Errorf("Classify(%v) = %v, want it unchanged", err, c)
		}
	}
	for _, err := range []error{
		&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
		&net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ENOENT)},
		fmt.Errorf("read: %w", syscall.ECONNRESET),
		syscall.EPIPE,
	} {
		if !IsUnavailable(err) {
			t.Errorf("IsUnavailable(%v) = false", err)
		}
	}
}
