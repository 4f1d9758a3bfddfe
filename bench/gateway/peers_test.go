package gateway

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// startToxiproxy starts toxiproxy-server (TOXIPROXY_SERVER) with one
// proxy to upstream and no toxics, and returns the proxy's address; ""
// with a note when TOXIPROXY_SERVER is not set.
func startToxiproxy(b *testing.B, upstream string) string {
	b.Helper()
	bin := os.Getenv("TOXIPROXY_SERVER")
	if bin == "" {
		b.Log("toxiproxy: left out: set TOXIPROXY_SERVER to a toxiproxy-server v2.12.0 binary " +
			"(GOBIN=$HOME/.cache/haderctl-bench go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0)")
		return ""
	}
	api := freeAddr(b)
	host, port, err := net.SplitHostPort(api)
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	// LOG_LEVEL=warn: Toxiproxy logs every connection at info; with
	// keep-alive that is 16 lines a run, but a quiet log is fairer.
	startServing(b, "toxiproxy", bin, []string{"LOG_LEVEL=warn"}, func() bool {
		return status(client, "http://"+api+"/version") == http.StatusOK
	}, "-host", host, "-port", port)
	var resp *http.Response
	body, _ := json.Marshal(map[string]any{"name": "bench", "listen": "127.0.0.1:0", "upstream": upstream, "enabled": true})
	resp, err = client.Post("http://"+api+"/proxies", "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatalf("toxiproxy POST /proxies: %v", err)
	}
	defer resp.Body.Close()
	var proxy struct {
		Listen string `json:"listen"`
		Toxics []any  `json:"toxics"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&proxy); err != nil || resp.StatusCode != http.StatusCreated {
		b.Fatalf("toxiproxy POST /proxies: %s, %v", resp.Status, err)
	}
	if len(proxy.Toxics) != 0 {
		b.Fatalf("toxiproxy proxy has toxics %v; want none", proxy.Toxics)
	}
	return proxy.Listen
}
