package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/haderos/haderctl/internal/engine/gateway"
)

// The hot path over loopback: a breaker admit (closed, cached) and the
// chaos check on every request, 11-byte answers, keep-alive clients.
// Compare with BenchmarkDirect for what the gateway adds.
func BenchmarkGateway(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello world") }))
	defer up.Close()
	sys := openSystem(b, "development")
	defer sys.Close()
	gw, err := gateway.New(sys, gateway.Config{Services: []gateway.Service{{Name: "shop", BaseURL: up.URL}}}, gateway.Options{Environment: "development"})
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	front := httptest.NewServer(gw)
	defer front.Close()
	run(b, front.URL+"/shop/x")
}

// BenchmarkBareReverseProxy is the floor: httputil.ReverseProxy alone.
func BenchmarkBareReverseProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello world") }))
	defer up.Close()
	target, _ := url.Parse(up.URL)
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	front := httptest.NewServer(rp)
	defer front.Close()
	run(b, front.URL+"/x")
}

func BenchmarkDirect(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello world") }))
	defer up.Close()
	run(b, up.URL+"/x")
}

func run(b *testing.B, url string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
