package kubernetes

import (
	"fmt"

	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// NewClient returns a client for the cluster in the kubeconfig
// file, or for the cluster the pod runs in (its service account) when
// kubeconfig is empty.
func NewClient(kubeconfig string) (clientset.Interface, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster Kubernetes configuration (outside a pod, give a kubeconfig file): %w", err)
		}
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
	}
	cfg.UserAgent = "connectivity-exporter"
	// Protobuf costs the API server and every exporter less CPU than JSON
	// for the same Node objects.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := clientset.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return client, nil
}

// Namespace is the namespace a client of the kubeconfig file
// works in by default, as kubectl picks it: the namespace of its current
// context, or "default". With an empty kubeconfig (in-cluster) it is the
// pod's own namespace, from POD_NAMESPACE or the service account's
// namespace file. The daemon looks for the health pods there unless told
// otherwise, since the manifests deploy both DaemonSets together.
func Namespace(kubeconfig string) (string, error) {
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}, &clientcmd.ConfigOverrides{})
	ns, _, err := cc.Namespace()
	if err != nil {
		if kubeconfig == "" {
			return "", fmt.Errorf("namespace of this pod: %w", err)
		}
		return "", fmt.Errorf("namespace of kubeconfig %s: %w", kubeconfig, err)
	}
	return ns, nil
}
