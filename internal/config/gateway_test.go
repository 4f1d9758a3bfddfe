package config

import (
	"strings"
	"testing"
	"time"
)

const gatewayFile = `
services:
  - name: aramex
    base_url: http://127.0.0.1:9001
    timeout: 2s
    fail_on: ["5xx", "429"]
  - name: smsa
    base_url: http://127.0.0.1:9002
    max_request_bytes: 1024
gateway:
  timeout: 5s
  routes:
    - name: shipping
      prefix: /api/v1/integrations/shipping/
      providers: [aramex, smsa]
  header_faults:
    enabled: true
    max_active_faults: 3
`

func TestGatewaySectionDecodesIntoTheEngineTypes(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "haderctl.yaml", gatewayFile)
	c, err := Load(Flags{Config: &p}, Sources{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	g := c.GatewayConfig()
	r := g.Settings.Routes[0]
	switch {
	case r.Name != "shipping" || r.Prefix != "/api/v1/integrations/shipping/" || strings.Join(r.Providers, ",") != "aramex,smsa":
		t.Fatalf("route %+v", r)
	case g.Settings.Timeout != 5*time.Second || !g.Settings.HeaderFaults.Enabled || g.Settings.HeaderFaults.MaxActiveFaults != 3:
		t.Fatalf("settings %+v", g.Settings)
	case g.Services[0].Timeout != 2*time.Second || strings.Join(g.Services[0].FailOn, ",") != "5xx,429" || g.Services[1].MaxRequestBytes != 1024:
		t.Fatalf("services %+v", g.Services)
	}
}

func TestGatewayErrorsNameTheFieldAndLine(t *testing.T) {
	cases := map[string]string{
		"an unknown provider": strings.Replace(gatewayFile, "[aramex, smsa]", "[aramex, fedex]", 1),
		"a written 0 timeout": strings.Replace(gatewayFile, "timeout: 5s", "timeout: 0", 1),
		"a bad status class":  strings.Replace(gatewayFile, `"429"`, `"6xx"`, 1),
		"a prefix without /":  strings.Replace(gatewayFile, "prefix: /api", "prefix: api", 1),
	}
	want := map[string]string{
		"an unknown provider": `gateway.routes[0].providers[1] (line 15): "fedex" is not a configured service with a base_url`,
		"a written 0 timeout": "gateway.timeout: 0 is not allowed",
		"a bad status class":  `services[0].fail_on[1] (line 6): "6xx" is neither a status class`,
		"a prefix without /":  `gateway.routes[0].prefix (line 14): "api/v1/integrations/shipping/" must start with /`,
	}
	for name, body := range cases {
		dir := t.TempDir()
		p := writeFile(t, dir, "haderctl.yaml", body)
		_, err := Load(Flags{Config: &p}, Sources{Dir: dir})
		if err == nil || !strings.Contains(err.Error(), want[name]) {
			t.Errorf("%s: %v, want %q", name, err, want[name])
		}
		if _, ok := err.(*Error); err != nil && !ok {
			t.Errorf("%s: %T is not a config error (exit 2)", name, err)
		}
	}
}
