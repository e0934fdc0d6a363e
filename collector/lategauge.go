package collector

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// lateBool is a 0-or-1 gauge that is absent until first set: before the
// first check of a health endpoint, a 0 would read as "down" and page.
type lateBool struct {
	desc  *prometheus.Desc
	state atomic.Int32 // 0 unset, 1 false, 2 true
}

func newLateBool(name, help string, constLabels prometheus.Labels) *lateBool {
	return &lateBool{desc: prometheus.NewDesc(namespace+"_"+name, help, nil, constLabels)}
}

func (b *lateBool) set(v bool) {
	if v {
		b.state.Store(2)
	} else {
		b.state.Store(1)
	}
}

func (b *lateBool) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

func (b *lateBool) Collect(ch chan<- prometheus.Metric) {
	switch b.state.Load() {
	case 1:
		ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, 0)
	case 2:
		ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, 1)
	}
}
