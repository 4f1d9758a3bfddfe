package commands

import "github.com/haderos/haderctl/internal/embedredis"

// startEmbeddedRedis starts the demo's embedded Redis on loopback: the
// one the tests fall back to, its clock driven (internal/embedredis).
func startEmbeddedRedis() (url string, stop func(), err error) {
	s, err := embedredis.Start()
	if err != nil {
		return "", nil, err
	}
	return s.URL(), s.Close, nil
}
