package admin

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeReport feeds the client's decoder what a broken or hostile peer of
// the socket might send: it must never panic, and whatever it accepts must
// survive being written and read again unchanged.
func FuzzDecodeReport(f *testing.F) {
	f.Add([]byte(`{"probe_time":"2026-11-21T12:00:00Z","interval":"15s","local_node":"n1","nodes":[{"name":"n1","local":true,"host":{"ip":"198.18.0.1","icmp":{"status":"reachable","result":"success","latency":"112µs","last_probed":"2026-11-21T12:00:00Z","consecutive_failures":0},"http":{"status":"unknown","latency":"0s","consecutive_failures":0}}}]}`))
	f.Add([]byte(`{"nodes":[]}`))
	f.Add([]byte(`{"interval":15}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeReport(data)
		if err != nil {
			return
		}
		once, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", data, err)
		}
		again, err := decodeReport(once)
		if err != nil {
			t.Fatalf("cannot decode own encoding %s: %v", once, err)
		}
		twice, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("round trip changed the report:\n%s\n%s", once, twice)
		}
	})
}

// decodeReport reads a Report as the client does.
func decodeReport(body []byte) (Report, error) {
	var r Report
	err := decodeStrict(body, &r)
	return r, err
}
