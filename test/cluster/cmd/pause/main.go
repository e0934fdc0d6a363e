// Command pause is the pod sandbox's process: it holds the pod's namespaces
// and waits for SIGTERM or SIGINT. The cluster harness builds it statically
// into a one-file image, because no registry is reachable.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
