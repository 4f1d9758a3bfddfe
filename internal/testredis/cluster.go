package testredis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of three masters (no replicas) on loopback,
// each a redis-server this package started.
type Cluster struct {
	Nodes []*Server
}

// Addrs are the masters' host:port addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// URL is a redis-cluster:// URL listing every master.
func (c *Cluster) URL() string { return "redis-cluster://" + strings.Join(c.Addrs(), ",") }

// Client returns a cluster client of the masters.
func (c *Cluster) Client() *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
}

// Stop kills every node.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop(true)
	}
}

// clusterPort picks a free loopback port whose cluster bus port (port +
// 10000, which Redis derives) is free too.
func clusterPort() (int, error) {
	for attempt := 0; attempt < 100; attempt++ {
		port, err := freePort()
		if err != nil {
			return 0, err
		}
		if port > 55535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("found no free port pair (port, port+10000) on loopback")
}

// StartCluster starts three cluster-enabled redis-servers with their data
// under dir, joins them with redis-cli --cluster create (16384 slots over
// three masters) and waits until every node says cluster_state:ok.
func StartCluster(dir string) (*Cluster, error) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	for i := 0; i < 3; i++ {
		nodeDir := filepath.Join(dir, fmt.Sprintf("node-%d", i+1))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			c.Stop()
			return nil, err
		}
		s, err := startServer(nodeDir, clusterPort, nil, func(port int) []string {
			return []string{"--port", strconv.Itoa(port), "--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(nodeDir, "nodes.conf"), "--cluster-node-timeout", "5000"}
		})
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, s)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	// Bounded: redis-cli waits for the nodes to join with no limit of its own.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v: %s", err, out)
	}
	if err := c.waitOK(30 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// waitOK polls CLUSTER INFO on every node until each reports
// cluster_state:ok and knows all three masters.
func (c *Cluster) waitOK(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, n := range c.Nodes {
		rc := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		var info string
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			info, _ = rc.ClusterInfo(ctx).Result()
			cancel()
			if strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:3") {
				break
			}
			if time.Now().After(deadline) {
				rc.Close()
				return fmt.Errorf("cluster node %s not ok after %s: %q", n.Addr, limit, info)
			}
			time.Sleep(20 * time.Millisecond) // poll interval while the nodes gossip
		}
		rc.Close()
	}
	return nil
}

var sharedCluster struct {
	once    sync.Once
	cluster *Cluster
	dir     string
	err     error
	skip    string
}

// ClusterURL returns the redis-cluster:// URL of a three-master cluster
// shared by this test binary, starting it on first use; Main stops it.
// Without redis-server and redis-cli the test is skipped, unless real Redis
// is required (CI), where it fails.
func ClusterURL(tb testing.TB) string {
	tb.Helper()
	sharedCluster.once.Do(func() {
		for _, bin := range []string{"redis-server", "redis-cli"} {
			if _, err := exec.LookPath(bin); err != nil {
				sharedCluster.skip = "no " + bin + " on PATH to start a Redis Cluster"
				return
			}
		}
		dir, err := os.MkdirTemp("", "haderctl-cluster-")
		if err != nil {
			sharedCluster.err = err
			return
		}
		sharedCluster.dir = dir
		sharedCluster.cluster, sharedCluster.err = StartCluster(dir)
	})
	switch {
	case sharedCluster.err != nil:
		tb.Fatalf("test Redis Cluster: %v", sharedCluster.err)
	case sharedCluster.skip != "" && Required():
		tb.Fatalf("HADERCTL_TEST_REQUIRE_REDIS is set but there is %s", sharedCluster.skip)
	case sharedCluster.skip != "":
		tb.Skip(sharedCluster.skip)
	}
	return sharedCluster.cluster.URL()
}

func stopSharedCluster() {
	if sharedCluster.cluster != nil {
		sharedCluster.cluster.Stop()
	}
	if sharedCluster.dir != "" {
		os.RemoveAll(sharedCluster.dir)
	}
}
