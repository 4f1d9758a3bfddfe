package source

import (
	"context"

	"github.com/haderos/haderctl/internal/dashboard"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/redact"
)

// BreakerDetail implements dashboard.Backend: the breaker's status with
// the settings it runs with, and its latest transitions, newest last.
func (b *Backend) BreakerDetail(ctx context.Context, name string, events int64) (dashboard.BreakerDetail, error) {
	if err := store.ValidName("breaker", name); err != nil {
		return dashboard.BreakerDetail{}, err
	}
	if events <= 0 {
		events = b.o.Events
	}
	st, _, err := b.sys.Breakers.Snapshot(ctx, []string{name})
	if err != nil {
		return dashboard.BreakerDetail{}, err
	}
	evs, err := b.sys.Breakers.Events(ctx, []string{name}, events)
	if err != nil {
		return dashboard.BreakerDetail{}, err
	}
	return dashboard.BreakerDetail{Status: st[0], Events: evs}, nil
}

// QueueOps implements dashboard.Backend over queue.Client.Page, with
// data, headers, URLs and errors redacted as `haderctl queue inspect`
// redacts them.
func (b *Backend) QueueOps(ctx context.Context, q, state, cursor string, n int64) ([]*queue.Operation, string, error) {
	if err := store.ValidName("queue", q); err != nil {
		return nil, "", err
	}
	ops, next, err := b.sys.Queues.Page(ctx, q, state, cursor, n)
	if err != nil {
		return nil, "", err
	}
	for _, o := range ops {
		queue.Redact(o)
	}
	return ops, next, nil
}

// ServiceChecks implements dashboard.Backend: the service's stored
// health, its latest n results (newest first, at most the 60 kept) and
// its latest n alert events (oldest first).
func (b *Backend) ServiceChecks(ctx context.Context, name string, n int64) (dashboard.ServiceDetail, error) {
	if err := store.ValidName("service", name); err != nil {
		return dashboard.ServiceDetail{}, err
	}
	if n <= 0 {
		n = b.o.Events
	}
	sts, _, err := b.sys.Health.Statuses(ctx, []string{name})
	if err != nil {
		return dashboard.ServiceDetail{}, err
	}
	st := sts[0]
	checks := st.Recent
	if int64(len(checks)) > n {
		checks = checks[:n]
	}
	alerts, err := b.sys.Health.Alerts(ctx, name, n)
	if err != nil {
		return dashboard.ServiceDetail{}, err
	}
	st.Error = redact.URLsIn(st.Error)
	for i := range alerts {
		alerts[i].Error = redact.URLsIn(alerts[i].Error)
	}
	if checks == nil {
		checks = []health.Sample{}
	}
	return dashboard.ServiceDetail{Status: st, Checks: checks, Alerts: alerts}, nil
}

// ExperimentAudit implements dashboard.Backend: the latest n audit
// entries about one experiment, oldest first.
func (b *Backend) ExperimentAudit(ctx context.Context, id string, n int64) ([]chaos.AuditEntry, error) {
	if n <= 0 {
		n = b.o.Events
	}
	a, err := b.sys.Chaos.AuditOf(ctx, id, n)
	for i := range a {
		a[i].Detail = redact.URLsIn(a[i].Detail)
	}
	return a, err
}
