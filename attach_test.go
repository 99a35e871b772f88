package wsmem

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const chromeRequest = "GET /chat?room=1 HTTP/1.1\r\n" +
	"Host: example.com:8080\r\n" +
	"Connection: Upgrade\r\n" +
	"Upgrade: websocket\r\n" +
	"Origin: http://example.com:8080\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Protocol: chat, superchat\r\n" +
	"\r\n"

// The server answers the upgrade in place; frames the client sent in the
// same segment as its request are kept.
func TestServerHandshakeKeepsEarlyFrames(t *testing.T) {
	for _, chunk := range []int{0, 1, 7} {
		m := &memConn{in: cat([]byte(chromeRequest), cframe(true, OpText, []byte("early")), cframe(true, OpBinary, []byte("bird"))), chunk: chunk}
		c, err := AttachServer(m, Text, namedStorage(128), &Config{Subprotocols: []string{"superchat", "chat"}})
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(m.out.Bytes())), nil)
		require.NoError(t, err)
		require.Equal(t, 101, resp.StatusCode)
		require.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", resp.Header.Get("Sec-WebSocket-Accept"))
		require.Equal(t, "superchat", resp.Header.Get("Sec-WebSocket-Protocol"))
		require.Equal(t, "/chat?room=1", string(c.Resource()))
		require.Equal(t, "example.com:8080", string(c.Host()))
		require.Equal(t, "superchat", c.Subprotocol())
		msgs, _, err := recvAll(c, 100)
		require.ErrorIs(t, err, io.EOF)
		require.Equal(t, []string{"early", "bird"}, msgs)
	}
}

// Every refusal answers its HTTP status and closes.
func TestServerHandshakeRefusals(t *testing.T) {
	long := "/" + strings.Repeat("a", 200)
	cases := []struct {
		status int
		req    string
		cfg    *Config
	}{
		{400, strings.Replace(chromeRequest, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1), nil},
		{400, strings.Replace(chromeRequest, "Upgrade: websocket", "Upgrade: h2c", 1), nil},
		{400, "garbage\r\n\r\n", nil},
		{403, strings.Replace(chromeRequest, "http://example.com:8080", "http://evil.example", 1), nil},
		{403, chromeRequest, &Config{CheckOrigin: func(origin, host []byte) bool { return false }}},
		{405, strings.Replace(chromeRequest, "GET", "POST", 1), nil},
		{414, strings.Replace(chromeRequest, "/chat?room=1", long, 1), nil},
		{426, strings.Replace(chromeRequest, "Version: 13", "Version: 8", 1), nil},
		{431, strings.Replace(chromeRequest, "\r\n\r\n", "\r\nX-Big: "+strings.Repeat("b", 9000)+"\r\n\r\n", 1), nil},
		{505, strings.Replace(chromeRequest, "HTTP/1.1", "HTTP/1.0", 1), nil},
	}
	for _, tc := range cases {
		m := &memConn{in: []byte(tc.req)}
		_, err := AttachServer(m, 0, namedStorage(128), tc.cfg)
		var he *HandshakeError
		require.ErrorAs(t, err, &he, "status %d", tc.status)
		require.Equal(t, tc.status, he.Status)
		require.ErrorIs(t, err, ErrHandshake)
		resp, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(m.out.Bytes())), nil)
		require.NoError(t, rerr, "status %d", tc.status)
		require.Equal(t, tc.status, resp.StatusCode)
		if tc.status == 426 {
			require.Equal(t, "13", resp.Header.Get("Sec-WebSocket-Version"))
		}
		require.True(t, m.closed)
	}
	// A larger name buffer takes the long target.
	c, err := AttachServer(&memConn{in: []byte(strings.Replace(chromeRequest, "/chat?room=1", long, 1))}, 0, namedStorage(1024), nil)
	require.NoError(t, err)
	require.Equal(t, long, string(c.Resource()))
	// Without a name buffer, names are not kept and not limited.
	c, err = AttachServer(&memConn{in: []byte(strings.Replace(chromeRequest, "/chat?room=1", long, 1))}, 0, new(Storage), nil)
	require.NoError(t, err)
	require.Nil(t, c.Resource())
	require.Nil(t, c.Host())
}

// namedStorage returns a Storage with a name buffer of n bytes.
func namedStorage(n int) *Storage {
	st := new(Storage)
	st.SetBuffers(&Buffers{Names: make([]byte, n)})
	return st
}

// A client that sends its request a byte at a time is cut off when the
// handshake timeout expires; one that stops is cut off too.
func TestServerHandshakeTimeout(t *testing.T) {
	srv, cli := tcpPair(t)
	go func() {
		for i := 0; i < len(chromeRequest); i++ {
			if _, err := cli.Write([]byte{chromeRequest[i]}); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	start := time.Now()
	_, err := AttachServer(srv, 0, new(Storage), &Config{HandshakeTimeout: 150 * time.Millisecond})
	require.True(t, isDeadline(err), "%v", err)
	require.Less(t, time.Since(start), 2*time.Second)
}

// wsmem client against wsmem server over TCP, with subprotocols.
func TestClientServerHandshake(t *testing.T) {
	srvNC, cliNC := tcpPair(t)
	errc := make(chan error, 1)
	var srv *Conn
	go func() {
		var err error
		srv, err = AttachServer(srvNC, 0, namedStorage(64), &Config{Subprotocols: []string{"v2", "v1"}})
		errc <- err
	}()
	cli, err := AttachClient(cliNC, Text, "/path?q=1", "localhost:1234", namedStorage(64), &Config{Subprotocols: []string{"v1", "v2"}})
	require.NoError(t, err)
	require.NoError(t, <-errc)
	require.Equal(t, "v2", cli.Subprotocol())
	require.Equal(t, "v2", srv.Subprotocol())
	require.Equal(t, "/path?q=1", string(srv.Resource()))
	require.Equal(t, "localhost:1234", string(srv.Host()))
	require.Equal(t, "/path?q=1", string(cli.Resource()))
	require.NoError(t, cli.SendMsg([]byte("hi")))
	buf := make([]byte, 10)
	n, typ, err := srv.Recv(buf)
	require.NoError(t, err)
	require.Equal(t, Text, typ)
	require.Equal(t, "hi", string(buf[:n]))
}

// The client refuses a response that does not prove the server read the key.
func TestClientRejectsBadAccept(t *testing.T) {
	m := &memConn{in: []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")}
	_, err := AttachClient(m, 0, "/", "h", new(Storage), nil)
	require.ErrorIs(t, err, ErrProtocol)
	m = &memConn{in: []byte("HTTP/1.1 200 OK\r\n\r\n")}
	_, err = AttachClient(m, 0, "/", "h", new(Storage), nil)
	require.Error(t, err)
	require.True(t, m.closed)
}

// answeringConn plays a server for the client handshake: it answers every
// request it is written with a valid 101.
type answeringConn struct {
	memConn
	resp []byte
}

func (a *answeringConn) Write(p []byte) (int, error) {
	if i := bytes.Index(p, []byte("Sec-WebSocket-Key: ")); i >= 0 {
		accept, _ := ResponseKey(p[i+19 : i+19+24])
		a.resp = append(a.resp[:0], "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
		a.resp = append(a.resp, accept[:]...)
		a.resp = append(a.resp, "\r\n\r\n"...)
		a.in = a.resp
	}
	return len(p), nil
}

func TestAllocsHandshake(t *testing.T) {
	skipIfRace(t)
	st := new(Storage)
	m := &memConn{}
	req := []byte(chromeRequest)
	cfg := &Config{Subprotocols: []string{"chat"}}
	requireNoAllocs(t, "server handshake", func() {
		m.in = req
		m.out.Reset()
		if _, err := AttachServer(m, 0, st, cfg); err != nil {
			t.Fatal(err)
		}
	})
	a := &answeringConn{}
	a.resp = make([]byte, 0, 256)
	requireNoAllocs(t, "client handshake", func() {
		if _, err := AttachClient(a, 0, "/chat", "example.com", st, nil); err != nil {
			t.Fatal(err)
		}
	})
	_ = errors.New
	_ = net.ErrClosed
}
