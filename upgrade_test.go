package wsmem

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// echoHandler upgrades and echoes every message back until the peer goes.
func echoHandler(t testing.TB, cfg *Config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, 0, nil, cfg)
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1<<20)
		for {
			n, typ, err := c.Recv(buf)
			if err != nil {
				return
			}
			if err := c.Send(typ, buf[:n]); err != nil {
				return
			}
		}
	})
	return mux
}

func TestUpgradeAndDial(t *testing.T) {
	cfg := &Config{Subprotocols: []string{"echo"}}
	for _, secure := range []bool{false, true} {
		var srv *httptest.Server
		url := ""
		dialCfg := &Config{Subprotocols: []string{"echo"}}
		if secure {
			srv = httptest.NewTLSServer(echoHandler(t, cfg))
			dialCfg.TLSConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
			url = "wss" + strings.TrimPrefix(srv.URL, "https") + "/ws?x=1"
		} else {
			srv = httptest.NewServer(echoHandler(t, cfg))
			url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws?x=1"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := Dial(ctx, url, namedStorage(64), dialCfg)
		require.NoError(t, err, url)
		require.Equal(t, "echo", c.Subprotocol())
		require.Equal(t, "/ws?x=1", string(c.Resource()))
		for _, size := range []int{0, 5, 70000} {
			p := []byte(strings.Repeat("z", size))
			require.NoError(t, c.Send(Text, p))
			buf := make([]byte, size+1)
			n, typ, err := c.Recv(buf)
			require.NoError(t, err)
			require.Equal(t, Text, typ)
			require.Equal(t, p, buf[:n])
		}
		require.NoError(t, c.Close())
		cancel()
		srv.Close()
	}
}

// Bytes sent right behind the request reach the WebSocket, not net/http.
func TestUpgradeKeepsBufferedBytes(t *testing.T) {
	srv := httptest.NewServer(echoHandler(t, nil))
	defer srv.Close()
	nc, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	req := strings.Replace(chromeRequest, "/chat?room=1", "/ws", 1)
	req = strings.Replace(req, "Origin: http://example.com:8080\r\n", "", 1)
	_, err = nc.Write(cat([]byte(req), cframe(true, OpText, []byte("early"))))
	require.NoError(t, err)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, 101, resp.StatusCode)
	echo := make([]byte, 7)
	_, err = br.Read(echo)
	require.NoError(t, err)
	require.Equal(t, sframe(true, OpText, []byte("early")), echo)
}

func TestUpgradeRefusals(t *testing.T) {
	srv := httptest.NewServer(echoHandler(t, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/ws")
	require.NoError(t, err)
	require.Equal(t, 400, resp.StatusCode)
	resp.Body.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Version", "8")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 426, resp.StatusCode)
	require.Equal(t, "13", resp.Header.Get("Sec-WebSocket-Version"))
	resp.Body.Close()

	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Origin", "http://elsewhere.example")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 403, resp.StatusCode)
	resp.Body.Close()

	resp, err = http.Post(srv.URL+"/ws", "text/plain", nil)
	require.NoError(t, err)
	require.Equal(t, 405, resp.StatusCode)
	resp.Body.Close()
}

// Dial gives up when its context ends during the handshake.
func TestDialHonoursContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(time.Second) // never answers
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, nil)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	require.Less(t, time.Since(start), 900*time.Millisecond)
	_, err = Dial(context.Background(), "http://x/", nil, nil)
	require.ErrorIs(t, err, errScheme)
}

// Upgrade from a request net/http parsed allocates nothing, with
// permessage-deflate negotiated or not.
func TestUpgradeAllocs(t *testing.T) {
	if raceBuild() {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	withDeflate := strings.Replace(chromeRequest, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n", 1)
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(withDeflate)))
	require.NoError(t, err)
	require.NotEmpty(t, r.Header["Sec-Websocket-Extensions"])
	for _, cfg := range []*Config{nil, {Compression: CompressionConfig{Enabled: true}}} {
		st := new(Storage)
		w := &hijackRecorder{}
		upgrade := func() {
			w.hijacked = false
			c, err := Upgrade(w, r, 0, st, cfg)
			if err != nil {
				panic(err)
			}
			if (cfg != nil) != c.Compression() {
				panic("compression not as configured")
			}
		}
		upgrade()
		require.Contains(t, w.conn.out.String(), "101 Switching Protocols")
		if cfg != nil {
			require.Contains(t, w.conn.out.String(), "permessage-deflate")
		}
		if n := testing.AllocsPerRun(100, upgrade); n != 0 {
			t.Errorf("compression %v: %v allocations per Upgrade, want 0", cfg != nil, n)
		}
	}
}

// TestUpgradeProtocolLines checks Upgrade's handling of the
// Sec-WebSocket-Protocol lines: a subprotocol the client offers on any of
// up to maxHeaderLines lines is agreed, none is answered when the server
// has none, and more lines are refused with 431 either way, as the raw
// handshake refuses them.
func TestUpgradeProtocolLines(t *testing.T) {
	request := func(lines int) *http.Request {
		var head string // chromeRequest without its blank line and protocol line
		for _, l := range strings.SplitAfter(strings.TrimSuffix(chromeRequest, "\r\n"), "\r\n") {
			if !strings.HasPrefix(l, "Sec-WebSocket-Protocol:") {
				head += l
			}
		}
		for i := range lines {
			if i == lines-1 {
				head += "Sec-WebSocket-Protocol: chat\r\n"
			} else {
				head += "Sec-WebSocket-Protocol: other" + strconv.Itoa(i) + "\r\n"
			}
		}
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head + "\r\n")))
		require.NoError(t, err)
		require.Len(t, r.Header["Sec-Websocket-Protocol"], lines)
		return r
	}
	withChat := &Config{Subprotocols: []string{"chat"}}
	for _, tc := range []struct {
		cfg      *Config
		lines    int
		status   int    // 0: upgraded
		protocol string // the answer's Sec-WebSocket-Protocol, if upgraded
	}{
		{withChat, 2, 0, "chat"},
		{withChat, maxHeaderLines, 0, "chat"},
		{withChat, maxHeaderLines + 1, 431, ""},
		{nil, 2, 0, ""},
		{nil, maxHeaderLines + 1, 431, ""},
	} {
		w := &hijackRecorder{}
		c, err := Upgrade(w, request(tc.lines), 0, new(Storage), tc.cfg)
		what := fmt.Sprintf("%d lines, subprotocols %v", tc.lines, tc.cfg != nil)
		if tc.status != 0 {
			var he *HandshakeError
			require.ErrorAs(t, err, &he, what)
			require.Equal(t, tc.status, he.Status, what)
			continue
		}
		require.NoError(t, err, what)
		out := w.conn.out.String()
		require.Contains(t, out, "101 Switching Protocols", what)
		if tc.protocol != "" {
			require.Contains(t, out, "\r\nSec-WebSocket-Protocol: "+tc.protocol+"\r\n", what)
			require.Equal(t, tc.protocol, c.Subprotocol(), what)
		} else {
			require.NotContains(t, out, "Sec-WebSocket-Protocol", what)
		}
	}
}
