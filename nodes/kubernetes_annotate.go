package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// kubeFieldManager names this program in the Node's managedFields, so that
// `kubectl get node -o yaml --show-managed-fields` tells who set the
// annotation.
const kubeFieldManager = "connectivity-exporter"

// AnnotateHealthIP sets the annotation on the Node nodeName to ip, or
// removes it when ip is the zero Addr. It sends a JSON merge patch of that
// one annotation, so it neither reads the node first nor touches any other
// field, and needs only the "patch" verb on nodes. Each exporter calls it
// for its own node at start. An ip that cannot be a health IP (unspecified,
// multicast, with a zone) is an error, and nothing is sent.
func AnnotateHealthIP(ctx context.Context, client kubernetes.Interface, nodeName, annotation string, ip netip.Addr) error {
	switch {
	case nodeName == "":
		return errors.New("annotate health IP: node name is empty")
	case annotation == "":
		return errors.New("annotate health IP: annotation key is empty")
	}
	var value any // nil: JSON null, which a merge patch reads as "remove"
	if ip.IsValid() {
		if reason := kubeAddrProblem(ip); reason != "" {
			return fmt.Errorf("annotate node %q with health IP %s: %s", nodeName, ip, reason)
		}
		value = ip.Unmap().String()
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{annotation: value}},
	})
	if err != nil {
		return err
	}
	if _, err := client.CoreV1().Nodes().Patch(ctx, nodeName, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: kubeFieldManager}); err != nil {
		if value == nil {
			return fmt.Errorf("remove annotation %s from node %q: %w", annotation, nodeName, err)
		}
		return fmt.Errorf("annotate node %q with %s=%s: %w", nodeName, annotation, value, err)
	}
	return nil
}
