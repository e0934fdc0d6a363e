package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
const clockTick = 100

// cpuTime is the user+system CPU time a process has used so far, all
// threads included.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces: fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("odd /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// memory returns VmRSS and VmHWM (peak RSS) of a process, in bytes.
func memory(pid int) (rss, peak int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak
}

// scrapeProto fetches /metrics as protobuf, which carries native histograms.
func scrapeProto(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept", `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`)
	// Generous: an overloaded smokeping_prober answers slowly.
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.NewFormat(expfmt.TypeProtoDelim))
	out := map[string]*dto.MetricFamily{}
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		out[mf.GetName()] = mf
	}
}

// scrapeText times one text scrape, as Prometheus would do it, and returns
// its size uncompressed and gzip-compressed.
func scrapeText(ctx context.Context, url string) (d time.Duration, size, gz int, lines int, err error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	req.Header.Set("Accept-Encoding", "gzip")
	start := time.Now()
	resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d = time.Since(start)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	gz = len(body)
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return 0, 0, 0, 0, err
		}
		if body, err = io.ReadAll(zr); err != nil {
			return 0, 0, 0, 0, err
		}
	}
	for _, l := range bytes.Split(body, []byte("\n")) {
		if len(l) > 0 && l[0] != '#' {
			lines++
		}
	}
	return d, len(body), gz, lines, nil
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// sumCounter adds up a counter's or gauge's series that have the labels in want.
func sumCounter(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	mf := mfs[name]
	if mf == nil {
		return 0
	}
	var s float64
	for _, m := range mf.GetMetric() {
		if !labelsMatch(m, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			s += m.GetCounter().GetValue()
		case m.Gauge != nil:
			s += m.GetGauge().GetValue()
		case m.Untyped != nil:
			s += m.GetUntyped().GetValue()
		}
	}
	return s
}

// nativeBuckets is a native histogram's positive buckets by index, plus
// its schema; enough for quantiles of a window (the difference of two).
type nativeBuckets struct {
	schema int32
	counts map[int32]float64
}

func nativeOf(mfs map[string]*dto.MetricFamily, name string, want map[string]string) nativeBuckets {
	nb := nativeBuckets{counts: map[int32]float64{}}
	mf := mfs[name]
	if mf == nil {
		return nb
	}
	for _, m := range mf.GetMetric() {
		if !labelsMatch(m, want) || m.Histogram == nil {
			continue
		}
		h := m.GetHistogram()
		nb.schema = h.GetSchema()
		idx, count := int32(0), int64(0)
		di := 0
		for _, sp := range h.GetPositiveSpan() {
			idx += sp.GetOffset()
			for j := uint32(0); j < sp.GetLength(); j++ {
				count += h.GetPositiveDelta()[di]
				di++
				nb.counts[idx] += float64(count)
				idx++
			}
		}
	}
	return nb
}

func (a nativeBuckets) minus(b nativeBuckets) nativeBuckets {
	out := nativeBuckets{schema: a.schema, counts: map[int32]float64{}}
	for i, c := range a.counts {
		if d := c - b.counts[i]; d > 0 {
			out.counts[i] = d
		}
	}
	return out
}

// quantile returns the q-quantile, as the geometric middle of its bucket.
func (a nativeBuckets) quantile(q float64) time.Duration {
	var idx []int32
	total := 0.0
	for i, c := range a.counts {
		idx = append(idx, i)
		total += c
	}
	if total == 0 {
		return 0
	}
	sort.Slice(idx, func(i, j int) bool { return idx[i] < idx[j] })
	base := math.Pow(2, math.Pow(2, -float64(a.schema)))
	cum := 0.0
	for _, i := range idx {
		cum += a.counts[i]
		if cum >= q*total {
			upper := math.Pow(base, float64(i))
			return time.Duration(upper / math.Sqrt(base) * float64(time.Second))
		}
	}
	return 0
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minMax(xs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}
