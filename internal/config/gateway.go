package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/duration"
	"github.com/haderos/haderctl/internal/engine/gateway"
	"gopkg.in/yaml.v3"
)

// The gateway section decodes into the engine's gateway.Settings, and a
// service's gateway fields (timeout, fail_on, max_request_bytes) into the
// gateway.Upstream inlined in Service: the file and `config view` use the
// engine's own names and zero values.

// GatewayConfig is what `haderctl gateway` routes by: the gateway section
// and every service with its base URL, headers and gateway settings.
func (c *Config) GatewayConfig() gateway.Config {
	out := gateway.Config{Settings: c.Gateway}
	for _, s := range c.Services {
		out.Services = append(out.Services, gateway.Service{Name: s.Name, BaseURL: s.BaseURL, Headers: s.Headers, Upstream: s.Upstream})
	}
	return out
}

// validateGateway refuses a 0 written where none means anything, then
// the gateway's own checks (routes name configured services, fail_on is
// a status class), each naming its field and line.
func (c *Config) validateGateway() error {
	w, g := c.written, c.Gateway
	has := func(f string) bool { return w.has(f) }
	if err := firstError(
		checkDuration("gateway.timeout", has("gateway.timeout"), g.Timeout, time.Millisecond, time.Hour),
		checkInt("gateway.max_request_bytes", has("gateway.max_request_bytes"), int(g.MaxRequestBytes), 1, gateway.MaxRequestBytesLimit),
		checkInt("gateway.header_faults.max_active_faults", has("gateway.header_faults.max_active_faults"), g.HeaderFaults.MaxActiveFaults, 1, MaxCount),
		checkDuration("gateway.header_faults.max_delay", has("gateway.header_faults.max_delay"), g.HeaderFaults.MaxDelay, time.Millisecond, time.Hour),
	); err != nil {
		return err
	}
	for i, s := range c.Services {
		at := fmt.Sprintf("services[%d].", i)
		if err := firstError(
			checkDuration(at+"timeout", has(at+"timeout"), s.Timeout, time.Millisecond, time.Hour),
			checkInt(at+"max_request_bytes", has(at+"max_request_bytes"), int(s.MaxRequestBytes), 1, gateway.MaxRequestBytesLimit),
		); err != nil {
			return err
		}
	}
	err := c.GatewayConfig().Validate()
	var fe *gateway.FieldError
	if errors.As(err, &fe) {
		if n := w[fe.Field]; n != nil {
			return errorf("%s (line %d): %s", fe.Field, n.Line, fe.Msg)
		}
		return errorf("%s", fe)
	}
	if err != nil {
		return errorf("gateway: %s", err)
	}
	return nil
}

// routesFile is the shape of `haderctl gateway --routes FILE`.
type routesFile struct {
	Routes []gateway.Route `yaml:"routes"`
}

// LoadRoutes reads a routes file: a routes: list like gateway.routes.
// Errors name the file, the field and its line.
func LoadRoutes(path string) ([]gateway.Route, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errorf("routes file %s: %s", path, errors.Unwrap(err))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, errorf("routes file %s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var out routesFile
	if root.Kind != 0 {
		err = scan(&root, reflect.TypeFor[routesFile](), "", written{})
		if err == nil {
			err = root.Decode(&out)
		}
	}
	var fe *duration.NodeError
	switch {
	case errors.As(err, &fe):
		if field := fieldPath(&root, fe.Line, fe.Column); field != "" {
			return nil, errorf("routes file %s: %s (line %d): %s", path, field, fe.Line, fe.Msg)
		}
		return nil, errorf("routes file %s: line %d: %s", path, fe.Line, fe.Msg)
	case err != nil:
		return nil, errorf("routes file %s: %s", path, err)
	}
	return out.Routes, nil
}
