package chaos

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Impact is what an experiment did to the calls it affected, next to the
// baseline of its services' other calls (the seed's chaos metrics). The
// data planes count it (package faults) and flush it to
// <ns>:{chaos}:impact:<id> and <ns>:{chaos}:impact:baseline:<service>.
type Impact struct {
	Calls             int64    `json:"affected_calls"`
	ErrorRate         *float64 `json:"error_rate"`
	AvgLatencyMs      *float64 `json:"avg_latency_ms"`
	BaselineCalls     int64    `json:"baseline_calls"`
	BaselineErrorRate *float64 `json:"baseline_error_rate"`
	BaselineLatencyMs *float64 `json:"baseline_avg_latency_ms"`
}

// BaselineKey is the impact key suffix of a service's calls that no
// experiment affected while experiments targeting it ran ("*": every
// service's, counted while an experiment on every service runs).
func BaselineKey(service string) string { return "baseline:" + service }

// ServiceImpactKey is the impact key suffix of the calls to one of an
// experiment's named targets that it affected (the experiment's own key
// sums them all).
func ServiceImpactKey(id, service string) string { return id + ":" + service }

func rates(h map[string]string) (calls int64, errRate, latency *float64) {
	n := func(f string) int64 { v, _ := strconv.ParseInt(h[f], 10, 64); return v }
	calls = n("calls")
	if calls > 0 {
		e := float64(n("errors")) / float64(calls)
		l := float64(n("latency_us")) / float64(calls) / 1000
		errRate, latency = &e, &l
	}
	return
}

// Impact reads the counted impact of an experiment.
func (c *Client) Impact(ctx context.Context, e Experiment) (Impact, error) {
	var im Impact
	h, err := c.rdb.HGetAll(ctx, c.keys.ChaosImpact(e.ID)).Result()
	if err != nil {
		return im, err
	}
	im.Calls, im.ErrorRate, im.AvgLatencyMs = rates(h)
	var base = map[string]int64{}
	for _, svc := range e.Services {
		bh, err := c.rdb.HGetAll(ctx, c.keys.ChaosImpact(BaselineKey(svc))).Result()
		if err != nil {
			return im, err
		}
		for k, v := range bh {
			n, _ := strconv.ParseInt(v, 10, 64)
			base[k] += n
		}
	}
	bs := map[string]string{}
	for k, v := range base {
		bs[k] = strconv.FormatInt(v, 10)
	}
	im.BaselineCalls, im.BaselineErrorRate, im.BaselineLatencyMs = rates(bs)
	return im, nil
}

// FailedCalls is how many of the calls an experiment affected failed, as
// flushed by the data planes so far (0 before the first flush).
func (c *Client) FailedCalls(ctx context.Context, id string) (int64, error) {
	return c.failed(ctx, id)
}

// FailedCallsOn is how many of the calls to service (one of the
// experiment's named targets) the experiment affected failed.
func (c *Client) FailedCallsOn(ctx context.Context, id, service string) (int64, error) {
	return c.failed(ctx, ServiceImpactKey(id, service))
}

func (c *Client) failed(ctx context.Context, key string) (int64, error) {
	n, err := c.rdb.HGet(ctx, c.keys.ChaosImpact(key), "errors").Int64()
	if err == redis.Nil {
		return 0, nil
	}
	return n, err
}
