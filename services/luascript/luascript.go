// Package luascript runs the service's Redis Lua scripts under one convention: a script
// answers an array whose first element is its outcome's name (a string) and whose other
// elements are values, and Run decodes that in one place. It also runs one script per group
// of keys in a pipeline and reloads scripts Redis forgot.
package luascript

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Result is a script's decoded answer.
type Result struct {
	Outcome string
	vals    []any
}

// Run runs script and decodes its answer {outcome, values...}.
func Run(ctx context.Context, c redis.Scripter, script *redis.Script, keys []string, args ...any) (Result, error) {
	raw, err := script.Run(ctx, c, keys, args...).Slice()
	if err != nil {
		return Result{}, err
	}
	return decode(raw)
}

func decode(raw []any) (Result, error) {
	if len(raw) == 0 {
		return Result{}, errors.New("script answered nothing")
	}
	outcome, ok := raw[0].(string)
	if !ok {
		return Result{}, fmt.Errorf("script outcome %v is not a name", raw[0])
	}
	return Result{Outcome: outcome, vals: raw[1:]}, nil
}

// String is the i-th value after the outcome as a string ("" when absent).
func (r Result) String(i int) string {
	if i >= len(r.vals) {
		return ""
	}
	switch v := r.vals[i].(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

// Int is the i-th value after the outcome as an integer (0 when absent or not a number).
func (r Result) Int(i int) int64 {
	if i >= len(r.vals) {
		return 0
	}
	switch v := r.vals[i].(type) {
	case int64:
		return v
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// Call is one invocation of a script in a pipeline.
type Call struct {
	Keys []string
	Args []any
}

// RunEach runs script once per call in a single pipeline (one round trip per Redis node, not
// per call), loading the script everywhere first when Redis does not have it cached. It
// returns each call's raw answer (scripts run this way return data, not outcomes).
func RunEach(ctx context.Context, c redis.UniversalClient, script *redis.Script, calls []Call) ([]*redis.Cmd, error) {
	for attempt := 0; ; attempt++ {
		pipe := c.Pipeline()
		cmds := make([]*redis.Cmd, len(calls))
		for i, call := range calls {
			cmds[i] = script.EvalSha(ctx, pipe, call.Keys, call.Args...)
		}
		_, err := pipe.Exec(ctx)
		if err == nil || errors.Is(err, redis.Nil) {
			return cmds, nil
		}
		if attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
			// Redis restarted or flushed its script cache: load the script everywhere and retry.
			if err := Load(ctx, c, script); err != nil {
				return nil, err
			}
			continue
		}
		return nil, err
	}
}

// Load caches a script on every node (all masters of a cluster).
func Load(ctx context.Context, c redis.UniversalClient, script *redis.Script) error {
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return script.Load(ctx, n).Err() })
	}
	return script.Load(ctx, c).Err()
}

// EachNode runs fn on every node that holds data: each master of a cluster, or the one server.
func EachNode(ctx context.Context, c redis.UniversalClient, fn func(ctx context.Context, n *redis.Client) error) error {
	switch c := c.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *redis.Client:
		return fn(ctx, c)
	}
	return fmt.Errorf("unsupported redis client %T", c)
}
