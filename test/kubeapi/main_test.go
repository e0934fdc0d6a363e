// Package kubeapi tests the exporter's Kubernetes side against a real API
// server: etcd and kube-apiserver run inside the test process (the
// Kubernetes test server, with the Node and RBAC authorizers), the
// manifests of deploy/kubernetes are applied to it with server-side apply,
// and the real exporter binary discovers lab nodes and health pods through
// it with the token of the manifests' own service account.
//
// It is a module of its own so that k8s.io/kubernetes, which brings the
// API server, etcd and their dependencies, never enters the exporter's
// go.mod. Run it with -vet=off: vet over those dependencies takes minutes.
package kubeapi

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/klog/v2"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// exporterBin is the exporter binary, built once by TestMain.
var exporterBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	// The API server logs a few hundred lines per start through klog.
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)

	dir, err := os.MkdirTemp("", "kubeapi-exporter")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	exporterBin = filepath.Join(dir, "connectivity_exporter")
	if err := testbin.Build(exporterBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
