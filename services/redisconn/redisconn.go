// Package redisconn connects to the Redis named by a REDIS_URL: one redis:// URL is a single
// Redis, several comma-separated addresses (redis:// URLs or host:port) are a Redis Cluster.
// The server and the SDK connect the same way.
package redisconn

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Open returns a client for raw; it does not dial (the first command does).
func Open(raw string) (redis.UniversalClient, error) {
	if raw == "" {
		return nil, errors.New("REDIS_URL is empty")
	}
	if strings.Contains(raw, ",") {
		var addrs []string
		for _, part := range strings.Split(raw, ",") {
			part = strings.TrimSpace(part)
			if u, err := redis.ParseURL(part); err == nil {
				part = u.Addr
			}
			addrs = append(addrs, part)
		}
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs}), nil
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	return redis.NewClient(opt), nil
}
