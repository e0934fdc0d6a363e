package grafana

import (
	"slices"
	"testing"
)

func TestExpand(t *testing.T) {
	got, err := Expand(`rate(x{a=~"$source", b="${peer}", c="[[path]]", d="${protocol:regex}"}[$__rate_interval]) or label_replace(y, "d", "$1", "s", "(.*)")`,
		map[string]string{"source": "n1|n2", "peer": "n3", "path": "host", "protocol": "icmp", "__rate_interval": "2m"})
	if err != nil {
		t.Fatal(err)
	}
	want := `rate(x{a=~"n1|n2", b="n3", c="host", d="icmp"}[2m]) or label_replace(y, "d", "$1", "s", "(.*)")`
	if got != want {
		t.Errorf("Expand:\n got %s\nwant %s", got, want)
	}
}

func TestVariableRefs(t *testing.T) {
	got := VariableRefs(`x{a=~"$source", b="${peer}", c="[[path]]", d="${protocol:regex}", e="$source"} or label_replace(y, "d", "$1", "s", "(.*)")`)
	if want := []string{"path", "peer", "protocol", "source"}; !slices.Equal(got, want) {
		t.Errorf("VariableRefs = %v, want %v", got, want)
	}
}
