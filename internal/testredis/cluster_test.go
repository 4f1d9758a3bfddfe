package testredis

import (
	"crypto/tls"
	"os/exec"

	"context"
	"github.com/redis/go-redis/v9"
	"strings"
	"testing"
)

func TestClusterServesEverySlot(t *testing.T) {
	url := ClusterURL(t)
	if !strings.HasPrefix(url, "redis-cluster://") || strings.Count(url, ",") != 2 {
		t.Fatalf("ClusterURL = %q, want redis-cluster:// and three masters", url)
	}
	c := sharedCluster.cluster.Client()
	defer c.Close()
	ctx := context.Background()
	// Keys in many slots: each write lands on whichever master owns it.
	for _, k := range []string{"a", "b", "c", "{x}1", "{y}2", "zz"} {
		if err := c.Set(ctx, Namespace(t)+k, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	masters := 0
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redisClient) error {
		masters++
		info, err := m.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			t.Errorf("a master says %q", info)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if masters != 3 {
		t.Fatalf("%d masters, want 3", masters)
	}
}

func TestTLSServerNeedsTheCAAndAClientCertificate(t *testing.T) {
	if _, err := lookRedis(); err != nil {
		if Required() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	certs, err := NewCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := StartTLSServer(dir, certs, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(true)
	if !strings.HasPrefix(s.URL(), "rediss://127.0.0.1:") {
		t.Fatalf("URL = %q", s.URL())
	}
	ctx := context.Background()
	good := newClient(s.Addr, s.TLS)
	defer good.Close()
	if err := good.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING with the CA and client certificate: %v", err)
	}
	noCert := s.TLS.Clone()
	noCert.Certificates = nil
	bad := newClient(s.Addr, noCert)
	defer bad.Close()
	if err := bad.Ping(ctx).Err(); err == nil {
		t.Fatal("PING without a client certificate succeeded")
	}
}

type redisClient = redis.Client

func newClient(addr string, tc *tls.Config) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, TLSConfig: tc, MaxRetries: -1})
}

func lookRedis() (string, error) { return exec.LookPath("redis-server") }
