package prober

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
)

func TestReadSizedAnswer(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\n"
	body := strings.Repeat("x", 6000)
	tests := []struct {
		name, answer string
		want         int
		wantErr      string // "" means success
	}{
		{"exact length", ok + "Content-Length: 6000\r\n\r\n" + body, 6000, ""},
		{"exact until EOF", "HTTP/1.0 200 OK\r\n\r\n" + body, 6000, ""},
		{"shorter length declared", ok + "Content-Length: 6\r\n\r\nhello\n", 6000, "answer body of 6 bytes, asked for 6000"},
		{"short until EOF", "HTTP/1.0 200 OK\r\n\r\n" + body[:100], 6000, "answer body of 100 bytes, asked for 6000"},
		{"longer until EOF", "HTTP/1.0 200 OK\r\n\r\n" + body + "x", 6000, "answer body over 6000 bytes"},
		{"cut short", ok + "Content-Length: 6000\r\n\r\n" + body[:3000], 6000, "connection closed before the answer ended"},
		{"an old responder ignores size", ok + "Content-Length: 6\r\n\r\nhello\n", 6000, "asked for 6000"},
		{"bad request", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 6000, "HTTP status 400"},
		{"over the limit asked", ok + "Content-Length: 6000\r\n\r\n" + body, MaxFullSizeBody + 1, "over the 65536-byte limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf [maxHelloHeader]byte
			err := readSizedAnswer(iotest.HalfReader(strings.NewReader(tc.answer)), buf[:], tc.want)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v, want success", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

// The full-size GET and the /hello responder agree on sizes, up to the limit.
func TestFullSizeHTTPAgainstTheResponder(t *testing.T) {
	h := hello.Handler()
	port := serveHTTP(t, h.ServeHTTP)
	probe := NewMTUHTTPProbe(HTTPConfig{Port: port, Path: hello.Path})
	for _, size := range []int{1, 1500, 6000, hello.MaxSize} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if o := probe(ctx, netip.MustParseAddr("127.0.0.1"), size); o.Result != ResultSuccess || o.RTT <= 0 {
				t.Fatalf("GET /hello?size=%d: %+v", size, o)
			}
		})
	}
	if hello.MaxSize != MaxFullSizeBody {
		t.Fatalf("the responder's limit %d and the prober's %d differ", hello.MaxSize, MaxFullSizeBody)
	}
}
