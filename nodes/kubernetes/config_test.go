package kubernetes

import (
	"strings"
	"testing"
	"time"
)

func TestKubernetesConfigDefaults(t *testing.T) {
	got := Config{}.withDefaults()
	want := Config{
		AddressType:        "InternalIP",
		IPFamily:           IPFamilyDual,
		HealthIPAnnotation: DefaultHealthIPAnnotation,
		HealthPodNamespace: "default",
		HealthPodSelector:  DefaultHealthPodSelector,
		NotReady:           Include,
		Cordoned:           Exclude,
	}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}

func TestKubernetesConfigValidate(t *testing.T) {
	good := Config{
		Kubeconfig: "/etc/kubeconfig", AddressType: "ExternalIP", IPFamily: "ipv6",
		HealthIPAnnotation: "Example.com/Health-IP", NotReady: "exclude", Cordoned: "include",
		HealthPodNamespace: "monitoring", HealthPodSelector: "app in (health, health-v2),tier!=web",
		Resync: time.Hour, LocalNode: "node-1",
	}
	if err := good.Validate(); err != nil {
		t.Errorf("good config: %v", err)
	}
	bad := Config{
		AddressType: "Hostname", IPFamily: "both", HealthIPAnnotation: "a b/c",
		HealthPodNamespace: "Not_A_Namespace", HealthPodSelector: "app in health",
		NotReady: "ignore", Cordoned: "yes", Resync: -time.Second,
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	// Every problem, one per line.
	for _, want := range []string{
		`address type "Hostname": want InternalIP or ExternalIP`,
		`IP family "both": want dual, ipv4 or ipv6`,
		`health IP annotation "a b/c" is not a valid annotation key`,
		`health pod namespace "Not_A_Namespace" is not a namespace name`,
		`health pod selector "app in health": `,
		`not-ready "ignore": want include or exclude`,
		`cordoned "yes": want include or exclude`,
		`resync period must not be negative, got -1s`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 8 {
		t.Errorf("%d lines, want 8:\n%v", n, err)
	}
	// Without health pods their namespace and selector are unused, and
	// not checked; the rest still is.
	bad.NoHealthPods = true
	err = bad.Validate()
	if err == nil || strings.Contains(err.Error(), "health pod") {
		t.Errorf("without health pods: %v, want the other problems and none of the health pods'", err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 6 {
		t.Errorf("without health pods: %d lines, want 6:\n%v", n, err)
	}
}
