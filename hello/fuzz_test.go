package hello

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
)

// FuzzHelloRequest feeds the /hello handler whatever a hostile client might
// send once net/http has parsed it: it must never panic, only GET or HEAD
// of exactly /hello may get a 200, and its body is "hello" or, for
// ?size=N, N bytes within MaxSize.
func FuzzHelloRequest(f *testing.F) {
	for _, s := range []string{
		"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /hello HTTP/1.0\r\n\r\n",
		"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"GET /hello/../hello HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET //hello HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /hello?x=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET http://evil/hello HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /hello?size=1500 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /hello?size=65537&size=1 HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	h := Handler()
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return // net/http answers 400 itself; the handler never sees it
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			t.Fatalf("%s answered 200", req.Method)
		}
		if req.URL.Path != Path {
			t.Fatalf("path %q answered 200", req.URL.Path)
		}
		if req.Method != http.MethodGet {
			return
		}
		if q, _ := url.ParseQuery(req.URL.RawQuery); q.Has(SizeParam) {
			if rec.Body.Len() > MaxSize || rec.Header().Get("Content-Length") != strconv.Itoa(rec.Body.Len()) {
				t.Fatalf("sized answer of %d bytes, Content-Length %q", rec.Body.Len(), rec.Header().Get("Content-Length"))
			}
			return
		}
		if rec.Body.String() != "hello\n" {
			t.Fatalf("body %q", rec.Body.String())
		}
	})
}
