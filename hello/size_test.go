package hello

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestHelloSize(t *testing.T) {
	h := Handler()
	tests := []struct {
		target   string
		wantCode int
		wantLen  int // body bytes of a 200
	}{
		{"/hello", http.StatusOK, len("hello\n")},
		{"/hello?size=0", http.StatusOK, 0},
		{"/hello?size=1", http.StatusOK, 1},
		{"/hello?size=6000", http.StatusOK, 6000},
		{"/hello?size=65536", http.StatusOK, MaxSize},
		{"/hello?other=1&size=1400", http.StatusOK, 1400},
		{"/hello?size=65537", http.StatusBadRequest, 0},
		{"/hello?size=1000000000000", http.StatusBadRequest, 0},
		{"/hello?size=-1", http.StatusBadRequest, 0},
		{"/hello?size=%2B5", http.StatusBadRequest, 0}, // "+5"
		{"/hello?size=", http.StatusBadRequest, 0},
		{"/hello?size=0x10", http.StatusBadRequest, 0},
		{"/hello?size=1&size=2", http.StatusBadRequest, 0},
		{"/hello?size=%zz", http.StatusBadRequest, 0},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.target, nil))
			if rec.Code != tc.wantCode {
				t.Fatalf("status %d, want %d (body %.80q)", rec.Code, tc.wantCode, rec.Body.String())
			}
			if tc.wantCode != http.StatusOK {
				return
			}
			if rec.Body.Len() != tc.wantLen {
				t.Errorf("body of %d bytes, want %d", rec.Body.Len(), tc.wantLen)
			}
			if tc.target != "/hello" && rec.Header().Get("Content-Length") != strconv.Itoa(tc.wantLen) {
				// Without it net/http chunks a large answer, which probes refuse.
				t.Errorf("Content-Length %q, want %d", rec.Header().Get("Content-Length"), tc.wantLen)
			}
		})
	}
}
