package main

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	valid := DefaultConfig()
	for _, tc := range []struct {
		name    string
		change  func(*Config)
		wantErr string // empty: valid
	}{
		{"default", func(*Config) {}, ""},
		{"regex and several matchers", func(c *Config) { c.JobSelector = `job=~"cx|connectivity-exporter", namespace!="test"` }, ""},
		{"escaped quote", func(c *Config) { c.JobSelector = `job="a\"b"` }, ""},
		{"tenant label", func(c *Config) { c.ClusterLabel = "__tenant_id__" }, ""},
		{"empty selector", func(c *Config) { c.JobSelector = "" }, "job selector"},
		{"braces", func(c *Config) { c.JobSelector = `{job="connectivity"}` }, "job selector"},
		{"unquoted value", func(c *Config) { c.JobSelector = `job=connectivity` }, "job selector"},
		{"trailing comma", func(c *Config) { c.JobSelector = `job="connectivity",` }, "job selector"},
		{"newline", func(c *Config) { c.JobSelector = "job=\"a\nb\"" }, "job selector"},
		{"template delimiters", func(c *Config) { c.JobSelector = `job="{{ x }}"` }, "template delimiters"},
		{"empty cluster label", func(c *Config) { c.ClusterLabel = "" }, "cluster label"},
		{"cluster label with a dash", func(c *Config) { c.ClusterLabel = "k8s-cluster" }, "cluster label"},
		{"runbook without %s", func(c *Config) { c.RunbookURLPattern = "https://example.com/runbooks" }, "runbook URL pattern"},
		{"runbook with two %s", func(c *Config) { c.RunbookURLPattern = "https://example.com/%s/%s" }, "runbook URL pattern"},
		{"runbook with a quote", func(c *Config) { c.RunbookURLPattern = `https://example.com/"%s` }, "runbook URL pattern"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate() = %v, want an error about %s", err, tc.wantErr)
			}
		})
	}
}

func TestRunbookURL(t *testing.T) {
	c := DefaultConfig()
	c.RunbookURLPattern = "https://wiki.example.com/runbooks#%s"
	if got, want := c.RunbookURL("ConnectivityNodeUnreachable"), "https://wiki.example.com/runbooks#connectivitynodeunreachable"; got != want {
		t.Errorf("RunbookURL = %q, want %q", got, want)
	}
}
