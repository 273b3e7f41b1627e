package main

import (
	"fmt"
	"net/http"
	"sync/atomic"
)

// ResultPendingMetric is the contract's optional Zigflow counter of handshake attempts
// that went result-pending after their ACK. It is the one Zigflow metric this process
// can keep honestly: it is only the agent activity, so it never sees a resolution (the
// pending gauge and the completed/failed counters are the workflow's to keep). The
// harness reads it to know that a fault meant for result-pending activities (a SIGTERM)
// came after this process had returned result-pending, not only after the ACK.
const ResultPendingMetric = "zigflow_agent_activities_result_pending_total"

// Metrics is served in Prometheus's text format on --metrics-listen: one counter needs
// no client library.
type Metrics struct {
	resultPending atomic.Uint64
}

// WentResultPending counts one attempt returning result-pending (nil: not served).
func (m *Metrics) WentResultPending() {
	if m != nil {
		m.resultPending.Add(1)
	}
}

func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = fmt.Fprintf(w,
		"# HELP %[1]s handshake activity attempts that went result-pending after the ACK\n"+
			"# TYPE %[1]s counter\n%[1]s %[2]d\n",
		ResultPendingMetric, m.resultPending.Load())
}
