package status_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/status"
)

func TestRenderJSONRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    admin.Report
	}{
		{"healthy", scenario(row{"node-1", "RRRR"}, row{"node-2", "RRRR"})},
		{"diagnosed", status.WithDiagnosis(scenario(row{"node-1", "RRRR"}, row{"node-2", "RRTT"}, row{"node-3", "XX"}))},
		{"not probed yet", scenario(row{"node-1", "????"}, row{"node-2", "??"})},
		{"transient", scenario(row{"node-1", "RRRR"}, row{"node-2", "tEtX"})},
		{"empty", admin.Report{Nodes: []admin.NodeReport{}}},
		{"partial", status.WithDiagnosis(scenario(row{"node-1", "RRRR/RRRR"}, row{"node-2", "RPRR/RPRR"}))},
		{"dual stack", status.WithDiagnosis(scenario(row{"node-1", "RRRR/RRRR"}, row{"node-2", "RRRR/RRTT"}, row{"node-3", "RR/RR"}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := status.RenderJSON(&buf, tc.r); err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(&buf)
			dec.DisallowUnknownFields()
			var back admin.Report
			if err := dec.Decode(&back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tc.r) {
				t.Errorf("round trip changed the report:\n got %+v\nwant %+v", back, tc.r)
			}
		})
	}
}

// The JSON layout is what scripts rely on: keep it in a golden file.
func TestRenderJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	r := status.WithDiagnosis(scenario(row{"node-1", "RRRR"}, row{"node-2", "RRTT"}, row{"node-3", "??"}))
	if err := status.RenderJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "report_json", buf.Bytes())
}

// Both families of a path: the IPv6 address in dual_stack_host and
// dual_stack_endpoint, beside the IPv4 one in host and endpoint.
func TestRenderJSONGoldenDualStack(t *testing.T) {
	var buf bytes.Buffer
	r := status.WithDiagnosis(scenario(row{"node-1", "RRRR/RRRR"}, row{"node-2", "RRRR/RRTT"}))
	if err := status.RenderJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "report_json_dual_stack", buf.Bytes())
}

// A partial path says which flows fail: source port, IPv6 flow label.
func TestRenderJSONGoldenPartial(t *testing.T) {
	var buf bytes.Buffer
	r := status.WithDiagnosis(scenario(row{"node-1", "RRRR/RRRR"}, row{"node-2", "RPRR/RPRR"}))
	if err := status.RenderJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "report_json_partial", buf.Bytes())
}
