package store

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/redact"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

func TestKeysMatchTheDocumentedSchema(t *testing.T) {
	k := Keys{Namespace: "hader"}
	for _, c := range []struct{ got, want string }{
		{k.Schema(), "hader:schema"},
		{k.Breakers(), "hader:breakers"},
		{k.Breaker("shopify"), "hader:breaker:{shopify}"},
		{k.BreakerProbes("shopify"), "hader:breaker:{shopify}:probes"},
		{k.BreakerEvents("shopify"), "hader:breaker:{shopify}:events"},
		{k.BreakerChannel(), "hader:breaker:transitions"},
	} {
		if c.got != c.want {
			t.Errorf("key %q, want %q", c.got, c.want)
		}
	}
	// docs/redis-schema.md names the same keys, so other languages agree.
	doc, err := os.ReadFile("../../../docs/redis-schema.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"<ns>:schema", "<ns>:breakers", "<ns>:breaker:{<name>}", "<ns>:breaker:{<name>}:probes", "<ns>:breaker:{<name>}:events", "<ns>:breaker:transitions"} {
		if !strings.Contains(string(doc), "`"+key+"`") {
			t.Errorf("docs/redis-schema.md does not document %s", key)
		}
	}
}

func TestParseURLForms(t *testing.T) {
	for _, c := range []struct {
		url        string
		addrs      string
		db         int
		user, pass string
		master     string
		tls        bool
		cluster    bool
	}{
		{url: "redis://127.0.0.1:6379/2", addrs: "127.0.0.1:6379", db: 2},
		{url: "rediss://app:pw@cache.internal:6380/0", addrs: "cache.internal:6380", user: "app", pass: "pw", tls: true},
		{url: "unix://:pw@/run/redis.sock?db=3", addrs: "/run/redis.sock", db: 3, pass: "pw"},
		{url: "redis-sentinel://:pw@s1:26379,s2/1?master=mymaster", addrs: "s1:26379,s2:26379", db: 1, pass: "pw", master: "mymaster"},
		{url: "redis-cluster://u:p%40ss@n1:7000,n2:7001", addrs: "n1:7000,n2:7001", user: "u", pass: "p@ss", cluster: true},
		{url: "rediss-cluster://n1:7000", addrs: "n1:7000", tls: true, cluster: true},
	} {
		o, err := ParseURL(c.url)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if got := strings.Join(o.Addrs, ","); got != c.addrs || o.DB != c.db || o.Username != c.user || o.Password != c.pass ||
			o.MasterName != c.master || (o.TLSConfig != nil) != c.tls || o.IsClusterMode != c.cluster {
			t.Errorf("%s: addrs %s db %d user %q pass %q master %q tls %v cluster %v", c.url, got, o.DB, o.Username, o.Password, o.MasterName, o.TLSConfig != nil, o.IsClusterMode)
		}
	}
}

func TestParseURLErrorsNeverShowThePassword(t *testing.T) {
	for _, u := range []string{
		"http://u:topsecret@h:1",
		"redis-sentinel://:topsecret@h1,h2/0",
		"redis://:topsecret@h:notaport/0",
		"redis-cluster://:topsecret@h1/3",
		"redis-sentinel://:topsecret@h1/zero?master=m",
		"topsecret",
	} {
		_, err := ParseURL(u)
		if err == nil {
			t.Errorf("%s: no error", u)
			continue
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%s: error shows the password: %v", u, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:pw@h:6379/0":             "redis://:***@h:6379/0",
		"redis://user:pw@h:6379/0":         "redis://user:***@h:6379/0",
		"redis://user@h:6379":              "redis://user@h:6379",
		"redis://h:6379/0":                 "redis://h:6379/0",
		"unix://u:pw@/run/redis.sock?db=1": "unix://u:***@/run/redis.sock?db=1",
		"redis-sentinel://h1,h2/0?master=m&sentinel_password=spw&x=1": "redis-sentinel://h1,h2/0?master=m&sentinel_password=***&x=1",
		"redis://:p@ss@h:1/0": "redis://:***@h:1/0",
	} {
		if got := redact.URL(in); got != want {
			t.Errorf("redact.URL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnreachableRedisIsClassified(t *testing.T) {
	rdb, err := Open(Options{URL: "redis://:pw@127.0.0.1:1/0", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	err = Classify(rdb.Ping(context.Background()).Err(), "redis://:***@127.0.0.1:1/0")
	var ue *UnavailableError
	if !errors.As(err, &ue) || !strings.HasSuffix(err.Error(), "is unreachable: connection refused") {
		t.Fatalf("got %v, want an UnavailableError saying connection refused", err)
	}
}

// openTestNamespace opens the test Redis through Open (closed when the test
// ends) with a namespace of the test's own.
func openTestNamespace(t *testing.T) (redis.UniversalClient, Keys) {
	t.Helper()
	rdb, err := Open(Options{URL: testredis.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb, Keys{Namespace: testredis.Namespace(t)}
}

func TestSchemaVersionIsClaimedAndANewerOneRefused(t *testing.T) {
	rdb, k := openTestNamespace(t)
	ctx := context.Background()
	if v, err := CheckSchema(ctx, rdb, k, false); err != nil || v != 0 {
		t.Fatal(v, err)
	}
	if n, _ := rdb.Exists(ctx, k.Schema()).Result(); n != 0 {
		t.Fatal("a read-only check stored a schema version")
	}
	if _, err := CheckSchema(ctx, rdb, k, true); err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(SchemaVersion)
	if v, _ := rdb.Get(ctx, k.Schema()).Result(); v != want {
		t.Fatalf("stored schema %q, want %s", v, want)
	}
	if v, err := CheckSchema(ctx, rdb, k, true); err != nil || v != SchemaVersion {
		t.Fatalf("CheckSchema read %d %v, want %d", v, err, SchemaVersion)
	}
	rdb.Set(ctx, k.Schema(), SchemaVersion+1, 0)
	var se *SchemaError
	if _, err := CheckSchema(ctx, rdb, k, true); !errors.As(err, &se) || se.Unreadable != "" {
		t.Fatalf("schema %d: %v, want a SchemaError for a newer version", SchemaVersion+1, err)
	}
}

func TestMarkSchemaWritesOnlyOverTheVersionUpgradedFrom(t *testing.T) {
	rdb, k := openTestNamespace(t)
	ctx := context.Background()
	rdb.Set(ctx, k.Schema(), 2, 0)
	if wrote, err := MarkSchema(ctx, rdb, k, 2, 3); err != nil || !wrote {
		t.Fatalf("MarkSchema 2 -> 3 over 2: wrote %v, %v", wrote, err)
	}
	if v, _ := rdb.Get(ctx, k.Schema()).Result(); v != "3" {
		t.Fatalf("stored %q after the upgrade, want 3", v)
	}
	// a second upgrader that read 2 before the first wrote leaves it alone
	rdb.Set(ctx, k.Schema(), 4, 0)
	if wrote, err := MarkSchema(ctx, rdb, k, 2, 3); err != nil || wrote {
		t.Fatalf("MarkSchema 2 -> 3 over 4: wrote %v, %v", wrote, err)
	}
	if v, _ := rdb.Get(ctx, k.Schema()).Result(); v != "4" {
		t.Fatalf("stored %q, want 4 left alone", v)
	}
}

func TestValidName(t *testing.T) {
	for name, ok := range map[string]bool{"shopify": true, "aramex-eg.v2_1": true, "": false, "a{b}": false, "has space": false, "-lead": false, strings.Repeat("x", 129): false} {
		if err := ValidName("breaker", name); (err == nil) != ok {
			t.Errorf("ValidName(%q) = %v", name, err)
		}
	}
}

func TestUnreadableSchemaIsNotCalledNewer(t *testing.T) {
	rdb, k := openTestNamespace(t)
	ctx := context.Background()
	for _, c := range []struct {
		plant func() error
		want  string
	}{
		{func() error { return rdb.Set(ctx, k.Schema(), "banana", 0).Err() }, `holds "banana", not a version number`},
		{func() error { return rdb.Set(ctx, k.Schema(), "-1", 0).Err() }, `holds "-1", not a version number`},
		// plain digits only (docs/redis-schema.md): strconv.Atoi would take a sign
		{func() error { return rdb.Set(ctx, k.Schema(), "+3", 0).Err() }, `holds "+3", not a version number`},
		{func() error { return rdb.Set(ctx, k.Schema(), "0", 0).Err() }, `holds "0", not a version number`},
		{func() error { return rdb.Set(ctx, k.Schema(), "", 0).Err() }, `holds "", not a version number`},
		{func() error { rdb.Del(ctx, k.Schema()); return rdb.HSet(ctx, k.Schema(), "v", "2").Err() }, "holds a hash, not a string"},
	} {
		if err := c.plant(); err != nil {
			t.Fatal(err)
		}
		_, err := CheckSchema(ctx, rdb, k, true)
		var se *SchemaError
		if !errors.As(err, &se) || se.Unreadable == "" {
			t.Fatalf("CheckSchema = %v, want an unreadable SchemaError", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "unreadable Redis schema version: key "+k.Schema()+" "+c.want) || strings.Contains(msg, "newer") {
			t.Errorf("message %q", msg)
		}
	}
}

// The multi-host forms go through go-redis' own parsers: what they read
// (credentials, database, their query options) arrives, our differences
// (a sentinel URL's user info is the master's; master=) hold, and an
// option neither knows is refused instead of ignored.
func TestMultiHostURLsThroughGoRedisParsers(t *testing.T) {
	o, err := ParseURL("redis-sentinel://app:pw@[::1],s2:26380/2?master=main&sentinel_user=su&sentinel_password=spw&client_name=hc")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.Addrs, ","); got != "[::1]:26379,s2:26380" || o.DB != 2 || o.Username != "app" || o.Password != "pw" ||
		o.MasterName != "main" || o.SentinelUsername != "su" || o.SentinelPassword != "spw" || o.ClientName != "hc" || o.TLSConfig != nil {
		t.Fatalf("sentinel: %+v", o)
	}
	if o, err = ParseURL("redis-sentinel://s1?master_name=main"); err != nil || o.MasterName != "main" || o.Addrs[0] != "s1:26379" {
		t.Fatalf("go-redis' master_name= is read too: %+v %v", o, err)
	}
	if o, err = ParseURL("rediss-cluster://u:pw@n1,n2:7001?read_only=true"); err != nil || !o.ReadOnly || !o.IsClusterMode ||
		strings.Join(o.Addrs, ",") != "n1:6379,n2:7001" || o.Username != "u" || o.Password != "pw" || o.TLSConfig == nil || o.TLSConfig.ServerName != "n1" {
		t.Fatalf("cluster: %+v %v", o, err)
	}
	// go-redis' addr= parameters work as well, with the same default port
	// as the host list (go-redis alone refuses an addr= without one)
	if o, err = ParseURL("redis-sentinel://s1?master=m&addr=s2&addr=s3:26380"); err != nil || strings.Join(o.Addrs, ",") != "s1:26379,s2:26379,s3:26380" {
		t.Fatalf("sentinel addr=: %+v %v", o, err)
	}
	if o, err = ParseURL("redis-cluster://n1,n2?addr=n3&addr=[::1]:7002"); err != nil || strings.Join(o.Addrs, ",") != "n1:6379,n2:6379,n3:6379,[::1]:7002" {
		t.Fatalf("cluster addr=: %+v %v", o, err)
	}
	for _, u := range []string{"redis-cluster://n1?no_such_option=1", "redis-sentinel://s1?master=m&no_such_option=1"} {
		if _, err := ParseURL(u); err == nil || !strings.Contains(err.Error(), "unexpected option: no_such_option") {
			t.Errorf("%s: want the unknown option refused, got %v", u, err)
		}
	}
}
