//go:build !linux

package prober

import (
	"io"
	"net"
	"time"
)

// answerReader reads the connection as it is where the kernel's receive
// timestamps are not used.
type answerReader struct{}

func newAnswerReader() *answerReader                    { return &answerReader{} }
func (*answerReader) reset(conn *net.TCPConn) io.Reader { return conn }
func (*answerReader) rtt(start time.Time) time.Duration { return time.Since(start) }
func (*answerReader) requestSent()                      {}
func (*answerReader) wakeAfter(int)                     {}

func holdTimestamps(*httpGetter) {}
