package prober

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// MaxFullSizeBody bounds the answer of a full-size HTTP probe
// (/hello?size=N); the responder's limit (hello.MaxSize) is the same.
const MaxFullSizeBody = 64 << 10

// maxHelloHeader bounds the status line and headers of a /hello answer.
const maxHelloHeader = 8 << 10

var (
	errHTTPClosedEarly = errors.New("connection closed before the answer ended")
	errHTTPBodyTooLong = fmt.Errorf("answer body over %d bytes", maxHelloBody)
	errHTTPHeaderLong  = fmt.Errorf("malformed HTTP response: header over %d bytes", maxHelloHeader)
	errHTTPRefused     = errors.New("connection refused")
	errHTTPTimeout     = errors.New("connection timed out")
)

// httpGetter is a minimal HTTP/1.1 client for one thing: GET a small answer
// over a fresh TCP connection and check that it is a 200. net/http's client
// costs a transport connection with two goroutines, bufio buffers and a
// parsed header map per probe; this costs a connection and a pooled buffer.
type httpGetter struct {
	port   uint16
	path   string
	dialer net.Dialer
	bufs   sync.Pool // *httpBuf
}

type httpBuf struct {
	b   [maxHelloHeader]byte
	req []byte
	r   *answerReader
}

func newHTTPGetter(cfg HTTPConfig) *httpGetter {
	g := &httpGetter{port: uint16(cfg.Port), path: cfg.Path}
	// No TCP keep-alive on a connection that lives for one request: that
	// saves four setsockopt calls per probe.
	g.dialer.KeepAlive = -1
	if g.path == "" {
		g.path = "/"
	}
	g.bufs.New = func() any { return &httpBuf{req: make([]byte, 0, 128), r: newAnswerReader()} }
	holdTimestamps(g)
	return g
}

func (g *httpGetter) probe(ctx context.Context, ip netip.Addr) Outcome {
	return g.exchange(ctx, ip, 0, Flow{}, nil)
}

// probeFlow is probe over flow f (Flow.Dial).
func (g *httpGetter) probeFlow(ctx context.Context, ip netip.Addr, f Flow) Outcome {
	return g.exchange(ctx, ip, 0, f, nil)
}

// getSize GETs path?size=size and checks that exactly size body bytes
// come: the answer of a full-size probe.
func (g *httpGetter) getSize(ctx context.Context, ip netip.Addr, size int) Outcome {
	return g.exchange(ctx, ip, max(size, 1), Flow{}, nil)
}

// getBoth GETs path?size=size once over flow f (Flow.Dial; a zero Flow
// dials as probe does) and reads two verdicts from the answer: the small
// probe's from its head, the full-size probe's from the whole of it (see
// SmallAndFullSize).
func (g *httpGetter) getBoth(ctx context.Context, ip netip.Addr, size int, f Flow) SmallAndFullSize {
	var head Outcome
	full := g.exchange(ctx, ip, max(size, 1), f, &head)
	return SmallAndFullSize{Small: head, SmallKnown: head.Result != "", FullSize: full}
}

// exchange makes one probe's connection and request. With head, the
// answer's head is read before the wake-up threshold of a full-size
// answer is set, and head is the success, with its RTT, of a 200 head,
// or the failure to connect; left zero otherwise.
func (g *httpGetter) exchange(ctx context.Context, ip netip.Addr, size int, flow Flow, head *Outcome) Outcome {
	ip = ip.Unmap()
	buf := g.bufs.Get().(*httpBuf)
	defer g.bufs.Put(buf)
	addr := netip.AddrPortFrom(ip, g.port)
	buf.req = appendHelloRequest(buf.req[:0], addr, g.path, size)

	start := time.Now()
	conn, err := g.dial(ctx, addr, flow)
	if err != nil {
		o := classifyHTTPError(err, ctx.Err() != nil)
		if head != nil {
			// No connection: a small probe would have fared the same.
			*head = o
		}
		return o
	}
	defer conn.Close()
	// The connection ends when ctx does, at its deadline (whose timer ctx
	// already has: the connection needs none of its own) or at shutdown.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	r := buf.r.reset(conn)
	if size > 0 && head == nil {
		// Wake up once most of a full-size answer is in, not once per
		// segment.
		buf.r.wakeAfter(size)
	}
	buf.r.requestSent()
	if _, err := conn.Write(buf.req); err != nil {
		return classifyHTTPError(err, ctx.Err() != nil)
	}
	var onHead func(status, pending int)
	if head != nil {
		onHead = func(status, pending int) {
			if status == 200 {
				*head = Outcome{Result: ResultSuccess, RTT: buf.r.rtt(start)}
				buf.r.wakeAfter(size - pending)
			}
		}
	}
	switch {
	case size > 0:
		err = readSizedAnswer(r, buf.b[:], size, onHead)
	default:
		err = readHelloAnswer(r, buf.b[:])
	}
	if err != nil {
		return classifyHTTPError(err, ctx.Err() != nil)
	}
	rtt := buf.r.rtt(start)
	// The whole answer is in: reset the connection rather than close it.
	// That spares the FIN exchange and leaves no TIME_WAIT socket behind,
	// of which a prober making hundreds of connections a second would keep
	// tens of thousands.
	_ = conn.SetLinger(0)
	return Outcome{Result: ResultSuccess, RTT: rtt}
}

func (g *httpGetter) dial(ctx context.Context, addr netip.AddrPort, flow Flow) (*net.TCPConn, error) {
	if flow != (Flow{}) {
		return flow.Dial(ctx, addr)
	}
	// DialContext, not DialTCP: DialTCP binds to the zero local address,
	// a syscall for nothing.
	c, err := g.dialer.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

func appendHelloRequest(b []byte, addr netip.AddrPort, path string, size int) []byte {
	b = append(b, "GET "...)
	b = append(b, path...)
	if size > 0 {
		b = append(b, "?size="...)
		b = strconv.AppendInt(b, int64(size), 10)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = addr.AppendTo(b)
	b = append(b, "\r\nUser-Agent: connectivity_exporter\r\nAccept: */*\r\nConnection: close\r\n\r\n"...)
	return b
}

// statusError is a well-formed answer that is not a 200.
type statusError int

func (e statusError) Error() string { return "HTTP status " + strconv.Itoa(int(e)) }

type malformedError string

func (e malformedError) Error() string { return "malformed HTTP response: " + string(e) }

// readHelloAnswer reads one HTTP/1.x answer strictly: a status line, headers
// within buf, and a body of at most maxHelloBody bytes framed by
// Content-Length or the end of the connection. Only a 200 is nil. A
// Transfer-Encoding is refused: /hello responders (net/http) send a
// Content-Length for their short body, never a chunked one.
func readHelloAnswer(r io.Reader, buf []byte) error {
	return readAnswer(r, buf, maxHelloBody, -1, nil)
}

// readSizedAnswer reads the answer to /hello?size=want: like
// readHelloAnswer, but the body must be exactly want bytes (at most
// MaxFullSizeBody), so that a short answer is not taken for a whole one.
// head, if not nil, is called once the head is read, with the status and
// the body bytes already read with it.
func readSizedAnswer(r io.Reader, buf []byte, want int, head func(status, pending int)) error {
	if want > MaxFullSizeBody {
		return fmt.Errorf("full-size answer of %d bytes asked, over the %d-byte limit", want, MaxFullSizeBody)
	}
	return readAnswer(r, buf, want, want, head)
}

// readAnswer reads an answer whose body is at most limit bytes, and exactly
// want bytes unless want is negative; onHead as readSizedAnswer's head.
func readAnswer(r io.Reader, buf []byte, limit, want int, onHead func(status, pending int)) error {
	n, end := 0, -1
	for end < 0 {
		if n == len(buf) {
			return errHTTPHeaderLong
		}
		m, err := r.Read(buf[n:])
		n += m
		// The header may end in the last read's bytes: look back 3.
		if i := bytes.Index(buf[max(0, n-m-3):n], []byte("\r\n\r\n")); i >= 0 {
			end = max(0, n-m-3) + i + 4
			break
		}
		if err != nil {
			if err == io.EOF {
				if n == 0 {
					return errHTTPClosedEarly
				}
				return malformed(buf[:n])
			}
			return err
		}
	}
	head := buf[:end-2] // each line ends in \r\n
	if hasBareLineBreak(head) {
		// RFC 9112 forbids a lone CR or LF inside a line; readers that
		// end lines there would frame this answer differently.
		return malformedError("bare CR or LF in the response head")
	}
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	status, err := parseStatusLine(line)
	if err != nil {
		return err
	}
	length := int64(-1)
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok || len(name) == 0 || name[0] == ' ' || name[0] == '\t' || bytes.ContainsAny(name, " \t") {
			return malformedError("bad header line")
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			v, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || v < 0 || (length >= 0 && v != length) {
				return malformedError("bad Content-Length")
			}
			length = v
		case asciiEqualFold(name, "Transfer-Encoding"):
			return malformedError("unsupported Transfer-Encoding")
		}
	}
	if onHead != nil {
		onHead(status, n-end)
	}
	if status != 200 {
		return statusError(status)
	}
	b := &bodyReader{r: r, buf: buf, pending: buf[end:n], limit: limit}
	switch {
	case length > int64(limit):
		return bodyTooLong(limit)
	case want >= 0 && length >= 0 && length != int64(want):
		return fmt.Errorf("answer body of %d bytes, asked for %d", length, want)
	case length >= 0:
		return b.exactly(int(length))
	}
	if err := b.untilEOF(); err != nil {
		return err
	}
	if want >= 0 && b.total != want {
		return fmt.Errorf("answer body of %d bytes, asked for %d", b.total, want)
	}
	return nil
}

func bodyTooLong(limit int) error {
	if limit == maxHelloBody {
		return errHTTPBodyTooLong
	}
	return fmt.Errorf("answer body over %d bytes", limit)
}

func malformed(b []byte) error {
	line, _, _ := bytes.Cut(b, []byte("\r\n"))
	if len(line) > 40 {
		line = line[:40]
	}
	return malformedError(strconv.Quote(string(line)))
}

// hasBareLineBreak reports a CR not followed by LF, or an LF not preceded by CR.
func hasBareLineBreak(head []byte) bool {
	for i, c := range head {
		switch {
		case c == '\r' && (i+1 == len(head) || head[i+1] != '\n'):
			return true
		case c == '\n' && (i == 0 || head[i-1] != '\r'):
			return true
		}
	}
	return false
}

// parseStatusLine accepts "HTTP/1.0 200 OK", "HTTP/1.1 404 Not Found" and
// the like.
func parseStatusLine(line []byte) (int, error) {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) ||
		(line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return 0, malformed(line)
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, malformed(line)
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 {
		return 0, malformed(line)
	}
	return code, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// bodyReader reads a body within limit bytes, through buf.
type bodyReader struct {
	r       io.Reader
	limit   int
	buf     []byte
	pending []byte // read but not yet consumed
	total   int    // body bytes seen
	eof     bool
}

// fill makes pending non-empty, or reports the end of the connection.
func (b *bodyReader) fill() error {
	if len(b.pending) > 0 {
		return nil
	}
	if b.eof {
		return io.EOF
	}
	n, err := b.r.Read(b.buf)
	b.pending = b.buf[:n]
	if err == io.EOF {
		b.eof = true
	}
	if n > 0 {
		return nil
	}
	return err
}

func (b *bodyReader) count(n int) error {
	b.total += n
	if b.total > b.limit {
		return bodyTooLong(b.limit)
	}
	return nil
}

func (b *bodyReader) exactly(n int) error {
	for n > 0 {
		if err := b.fill(); err != nil {
			return eofIsEarly(err)
		}
		m := min(n, len(b.pending))
		b.pending = b.pending[m:]
		n -= m
	}
	return nil
}

func (b *bodyReader) untilEOF() error {
	for {
		if err := b.fill(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := b.count(len(b.pending)); err != nil {
			return err
		}
		b.pending = nil
	}
}

func eofIsEarly(err error) error {
	if errors.Is(err, io.EOF) {
		return errHTTPClosedEarly
	}
	return err
}
