package gqlhttp

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the GraphQL endpoints' Prometheus series.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wallet_graphql_requests_total",
			Help: "GraphQL operations by schema, root field and outcome code (OK when no error).",
		}, []string{"schema", "operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wallet_graphql_request_duration_seconds",
			Help:    "GraphQL operation latency by schema and root field.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"schema", "operation"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// observe labels each operation by its first root field: operation names come from clients
// and would make the label set unbounded, root fields are bounded by the schema.
func (m *Metrics) observe(schema string) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		start := time.Now()
		resp := next(ctx)
		op := "unknown"
		if graphql.HasOperationContext(ctx) {
			oc := graphql.GetOperationContext(ctx)
			if oc.Operation != nil {
				op = rootField(oc)
			}
		}
		code := "OK"
		if resp != nil && len(resp.Errors) > 0 {
			if c, ok := resp.Errors[0].Extensions["code"].(string); ok {
				code = c
			} else {
				code = "ERROR"
			}
		}
		m.requests.WithLabelValues(schema, op, code).Inc()
		m.duration.WithLabelValues(schema, op).Observe(time.Since(start).Seconds())
		return resp
	}
}
