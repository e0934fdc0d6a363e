package collector

import "github.com/prometheus/client_golang/prometheus"

// rttBuckets are the classic buckets: ×2 from 50µs to about 3.3s, which
// covers a veth (tens of µs) to a probe timeout (seconds).
func rttBuckets() []float64 { return prometheus.ExponentialBuckets(50e-6, 2, 17) }

// rttHistogramOpts makes native (sparse) histograms, with classic buckets
// too when asked, so that Grafana heatmaps work with either.
func rttHistogramOpts(name, help string, constLabels prometheus.Labels, classic bool) prometheus.HistogramOpts {
	opts := prometheus.HistogramOpts{
		Namespace:                       namespace,
		Name:                            name,
		Help:                            help,
		ConstLabels:                     constLabels,
		NativeHistogramBucketFactor:     1.1,
		NativeHistogramMaxBucketNumber:  160,
		NativeHistogramMinResetDuration: 0,
		NativeHistogramZeroThreshold:    1e-6,
	}
	if classic {
		opts.Buckets = rttBuckets()
	}
	return opts
}
