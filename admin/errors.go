package admin

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// ErrDaemonNotRunning is wrapped by client errors that mean no daemon serves
// the socket: it does not exist, or nothing listens on it any more.
var ErrDaemonNotRunning = errors.New("connectivity_exporter daemon not running")

const startHint = "is the daemon running? start it with: connectivity_exporter --node.name=... --nodes.file=..."

// reachError is an error whose message is written for the operator and that
// still matches the sentinel and the underlying cause with errors.Is.
type reachError struct {
	msg  string
	errs []error
}

func (e *reachError) Error() string   { return e.msg }
func (e *reachError) Unwrap() []error { return e.errs }

// dialError explains why the socket could not be connected to, or returns
// nil if err is not about connecting.
func dialError(socket string, err error) error {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return nil
	}
	const prefix = "cannot reach the connectivity_exporter daemon: "
	switch {
	case errors.Is(err, syscall.ENOENT):
		return &reachError{
			msg:  fmt.Sprintf("%s%s does not exist; %s", prefix, socket, startHint),
			errs: []error{ErrDaemonNotRunning, err},
		}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &reachError{
			msg:  fmt.Sprintf("%snothing listens on %s (left behind by a daemon that stopped); %s", prefix, socket, startHint),
			errs: []error{ErrDaemonNotRunning, err},
		}
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return &reachError{
			msg:  fmt.Sprintf("%spermission denied on %s; run as root or as a member of the socket's group", prefix, socket),
			errs: []error{err},
		}
	default:
		return &reachError{
			msg:  fmt.Sprintf("%s%s: %v", prefix, socket, op.Err),
			errs: []error{err},
		}
	}
}
