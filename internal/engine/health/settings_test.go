package health

import (
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/duration"
)

func TestCheckSettingsFillACheckOverTheDefaults(t *testing.T) {
	d := func(v time.Duration) *duration.Duration { x := duration.Duration(v); return &x }
	policy := AlertPolicy{FailureThreshold: 5}
	// the service's own settings win over the section's defaults
	own := CheckSettings{Method: "HEAD", Interval: d(5 * time.Second), Timeout: d(2 * time.Second), ExpectStatus: []int{204},
		MaxResponseTime: d(300 * time.Millisecond), Headers: map[string]string{"X-Probe": "1"}}
	c := own.Check("aramex", "http://127.0.0.1:9/health", d(time.Minute), d(20*time.Second), policy)
	if c.Name != "aramex" || c.URL != "http://127.0.0.1:9/health" || c.Method != "HEAD" || c.Interval != 5*time.Second ||
		c.Timeout != 2*time.Second || c.MaxResponseTime != 300*time.Millisecond || len(c.ExpectStatus) != 1 ||
		c.Headers["X-Probe"] != "1" || c.Alert.FailureThreshold != 5 {
		t.Fatalf("own settings: %+v", c)
	}
	// left out: the section's defaults, then the engine's
	c = CheckSettings{}.Check("smsa", "http://127.0.0.1:9/", d(time.Minute), nil, AlertPolicy{})
	want := Check{Name: "smsa", URL: "http://127.0.0.1:9/", Interval: time.Minute}.WithDefaults()
	if c.Interval != time.Minute || c.Timeout != want.Timeout || c.Method != want.Method || c.MaxResponseTime != 0 || c.ExpectStatus != nil {
		t.Fatalf("defaults: %+v, want %+v", c, want)
	}
}
