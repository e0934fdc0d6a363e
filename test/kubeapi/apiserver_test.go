package kubeapi

import (
	"testing"
	"time"

	"k8s.io/apiserver/pkg/storage/etcd3/testserver"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/client-go/rest"
	apiservertesting "k8s.io/kubernetes/cmd/kube-apiserver/app/testing"
)

// startAPIServer starts etcd and a kube-apiserver that authorizes like a
// real cluster's (Node and RBAC, no AlwaysAllow), both stopped when the
// test ends, and returns an admin client configuration.
func startAPIServer(t *testing.T) *rest.Config {
	t.Helper()
	start := time.Now()
	etcd := testserver.NewTestConfig(t)
	testserver.RunEtcd(t, etcd)
	storage := storagebackend.NewDefaultConfig("/registry", nil)
	storage.Transport.ServerList = []string{etcd.ListenClientUrls[0].String()}
	server := apiservertesting.StartTestServerOrDie(t, nil, []string{"--authorization-mode=Node,RBAC"}, storage)
	t.Cleanup(server.TearDownFn)
	t.Logf("etcd and kube-apiserver ready in %s", time.Since(start).Round(time.Millisecond))
	return server.ClientConfig
}
