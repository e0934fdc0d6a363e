package daemon

import (
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/connectivity-exporter/connectivity_exporter/nodes/kubernetes"
)

// kubernetesSource connects to the API server and returns the source of
// the node list: the Node objects, with each node's health IP taken from
// its health pod (or its annotation). The health pods are looked for in
// --nodes.kubernetes.health-pods.namespace, by default the namespace of
// the kubeconfig's context, or in a pod its own; with
// --no-nodes.kubernetes.health-pods they are not looked for at all.
func (d *daemon) kubernetesSource() (*kubernetes.Source, error) {
	f := d.cfg
	client, err := kubernetes.NewClient(f.Kube.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg := f.Kube
	cfg.LocalNode = f.NodeName // kept even when cordoned or NotReady: it probes itself
	logger := log.With(d.logger, "component", "discovery")
	if cfg.NoHealthPods {
		level.Info(logger).Log("msg", "watching Kubernetes nodes; no health pods (health IPs from the node annotation only)", "annotation", cfg.HealthIPAnnotation)
		return kubernetes.NewSource(client, cfg, logger), nil
	}
	if cfg.HealthPodNamespace == "" {
		if cfg.HealthPodNamespace, err = kubernetes.Namespace(cfg.Kubeconfig); err != nil {
			return nil, err
		}
	}
	level.Info(logger).Log("msg", "watching Kubernetes nodes and health pods", "namespace", cfg.HealthPodNamespace, "selector", cfg.HealthPodSelector)
	return kubernetes.NewSource(client, cfg, logger), nil
}
