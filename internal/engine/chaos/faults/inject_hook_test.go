package faults

import (
	"sync"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
)

func TestOnInjectIsToldOfEveryFaultAppliedAndNothingElse(t *testing.T) {
	e := setup(t)
	seeded(e.faults, 1)
	var mu sync.Mutex
	got := map[string]int{}
	e.faults.OnInject(func(service, kind string) {
		mu.Lock()
		got[service+"/"+kind]++
		mu.Unlock()
	})
	e.start(t, chaos.Experiment{Kind: chaos.Error, Status: 503, Services: []string{"shopify"}, Probability: 1, Duration: time.Minute})
	failed := 0
	for range 5 {
		code, _, err := e.call(t, "shopify", "/", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code == 503 {
			failed++
		}
	}
	// a service no experiment targets is not told of
	if _, _, err := e.call(t, "aramex", "/", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if failed != 5 || got["shopify/error"] != 5 || len(got) != 1 {
		t.Fatalf("%d requests failed, hook saw %v; want 5 shopify/error and nothing else", failed, got)
	}
	mu.Unlock()

	e.faults.OnInject(nil)
	if _, _, err := e.call(t, "shopify", "/", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got["shopify/error"] != 5 {
		t.Fatalf("a removed hook was still called: %v", got)
	}
}
