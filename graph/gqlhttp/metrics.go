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
	// refused counts documents refused by a limit before validation, by limit.
	refused *prometheus.CounterVec
	// validations counts documents gqlgen validated (parsed-query cache misses).
	validations *prometheus.CounterVec
	// cacheBytes and cacheEntries are the parsed-query cache's size.
	cacheBytes, cacheEntries *prometheus.GaugeVec
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
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wallet_graphql_documents_refused_total",
			Help: "Documents refused before validation, by the limit they broke (bytes, width, depth, selections, introspection, duplicates, cycle).",
		}, []string{"schema", "limit"}),
		validations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wallet_graphql_validations_total",
			Help: "Documents validated against the schema: parsed-query cache misses that passed the document limits.",
		}, []string{"schema"}),
		cacheBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wallet_graphql_query_cache_bytes",
			Help: "Bytes the parsed-query cache holds (text, key and syntax tree, as estimated).",
		}, []string{"schema"}),
		cacheEntries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wallet_graphql_query_cache_entries",
			Help: "Documents in the parsed-query cache.",
		}, []string{"schema"}),
	}
	reg.MustRegister(m.requests, m.duration, m.refused, m.validations, m.cacheBytes, m.cacheEntries)
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
