package wsmem

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkAttachServer is the raw server handshake over an in-memory
// connection: parse the request in place, answer 101.
func BenchmarkAttachServer(b *testing.B) {
	st := new(Storage)
	m := &memConn{}
	req := []byte(chromeRequest)
	cfg := &Config{Subprotocols: []string{"chat"}}
	b.ReportAllocs()
	for b.Loop() {
		m.in = req
		m.out.Reset()
		if _, err := AttachServer(m, 0, st, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAttachClient is the client handshake: a fresh key, the request,
// and the check of the server's answer.
func BenchmarkAttachClient(b *testing.B) {
	st := new(Storage)
	a := &answeringConn{}
	a.resp = make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AttachClient(a, 0, "/chat", "example.com", st, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpgrade is a whole net/http upgrade over loopback: connect,
// request, the server's Upgrade, the 101, close.
func BenchmarkUpgrade(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, 0, nil, nil)
		if err == nil {
			c.Close()
		}
	}))
	defer srv.Close()
	req := []byte(strings.Replace(strings.Replace(chromeRequest, "Origin: http://example.com:8080\r\n", "", 1), "example.com:8080", srv.Listener.Addr().String(), 1))
	b.ReportAllocs()
	for b.Loop() {
		nc, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := nc.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil || resp.StatusCode != 101 {
			b.Fatal(err, resp)
		}
		nc.Close()
	}
}

// BenchmarkUpgradeHandler is Upgrade alone, from a request net/http parsed
// once, over a connection whose writes are discarded: the library's part
// of an upgrade without the network.
func BenchmarkUpgradeHandler(b *testing.B) {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(chromeRequest)))
	if err != nil {
		b.Fatal(err)
	}
	st := new(Storage)
	w := &hijackRecorder{}
	b.ReportAllocs()
	for b.Loop() {
		w.hijacked = false
		if _, err := Upgrade(w, r, 0, st, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// hijackRecorder is an http.ResponseWriter whose Hijack hands over a
// connection that discards what is written to it.
type hijackRecorder struct {
	hijacked bool
	conn     memConn
	brw      bufio.ReadWriter
}

func (h *hijackRecorder) Header() http.Header         { return http.Header{} }
func (h *hijackRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (h *hijackRecorder) WriteHeader(int)             {}
func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h.hijacked {
		return nil, nil, http.ErrHijacked
	}
	h.hijacked = true
	h.conn.out.Reset()
	if h.brw.Reader == nil {
		h.brw.Reader = bufio.NewReader(&h.conn)
	}
	return &h.conn, &h.brw, nil
}
