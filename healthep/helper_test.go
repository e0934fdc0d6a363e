package healthep

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
)

// helperEnv carries a helperSpec to the test binary re-executed inside a
// node netns; the child writes one event per line to fd 3.
const helperEnv = "CXT_HEP_HELPER"

type helperSpec struct {
	Mode          string // "run" the controller until SIGTERM, or "cleanup" once
	IP            netip.Addr
	Netns         string
	HostInterface string
	Interval      time.Duration
}

func (s helperSpec) config() Config {
	return Config{
		IP:            s.IP,
		Netns:         s.Netns,
		HostInterface: s.HostInterface,
		HelloPort:     hello.DefaultPort,
		CheckInterval: s.Interval,
		CheckTimeout:  s.Interval,
	}
}

// TestHelperProcess is the child side: it is the "daemon" of a node netns.
func TestHelperProcess(t *testing.T) {
	raw := os.Getenv(helperEnv)
	if raw == "" {
		t.Skip("helper for the lab tests; runs only when re-executed by them")
	}
	var spec helperSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	ev := &eventWriter{f: os.NewFile(3, "events")}
	logger := log.NewLogfmtLogger(log.NewSyncWriter(os.Stderr))
	logger = log.With(logger, "ts", log.DefaultTimestampUTC)

	var err error
	switch spec.Mode {
	case "cleanup":
		err = Cleanup(spec.config())
	case "run":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		var c *Controller
		if c, err = NewController(spec.config(), ev, logger); err == nil {
			err = c.Run(ctx)
		}
	default:
		err = fmt.Errorf("unknown helper mode %q", spec.Mode)
	}
	msg := ""
	if err != nil {
		msg = strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	ev.emit("exit " + msg)
}

// eventWriter is the child's Reporter: it forwards every call to the parent.
type eventWriter struct {
	mu sync.Mutex
	f  *os.File
}

func (w *eventWriter) emit(line string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintln(w.f, line)
}

func (w *eventWriter) SetHealthEndpointUp(up bool) { w.emit(fmt.Sprint("up ", up)) }
func (w *eventWriter) HealthEndpointRestarted()    { w.emit("restarted") }
