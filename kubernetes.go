package main

import (
	"context"
	"time"

	"github.com/go-kit/log"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
)

// kubeAnnotateTimeout bounds publishing this node's health IP.
const kubeAnnotateTimeout = 30 * time.Second

// kubernetesSource connects to the API server, publishes --healthep.ip in this
// node's annotation (without the flag the annotation is left alone and this
// node's health IP is read from it like everyone else's), and returns the source.
func (d *daemonCommand) kubernetesSource(ctx context.Context, logger log.Logger) (*nodes.KubernetesSource, error) {
	f := &d.flags
	client, err := nodes.NewKubernetesClient(f.kube.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if f.healthAddr.IsValid() {
		actx, cancel := context.WithTimeout(ctx, kubeAnnotateTimeout)
		err := nodes.AnnotateHealthIP(actx, client, f.nodeName, f.kube.HealthIPAnnotation, f.healthAddr)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	cfg := f.kube
	cfg.LocalNode = f.nodeName // kept even when cordoned or NotReady: it probes itself
	return nodes.NewKubernetesSource(client, cfg, log.With(logger, "component", "discovery")), nil
}
