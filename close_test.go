package wsmem

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Done half-closes: sends fail, receiving goes on until the peer's close.
func TestDoneThenPeerCloses(t *testing.T) {
	srv, cli := wsPair(t, nil)
	require.NoError(t, srv.Done(StatusGoingAway, []byte("bye")))
	require.ErrorIs(t, srv.Send(Text, []byte("x")), ErrClosed)
	// The client still sends a message before it sees the close.
	require.NoError(t, cli.Send(Text, []byte("last words")))
	buf := make([]byte, 100)
	_, _, err := cli.Recv(buf) // the close arrives; the client echoes it
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, StatusGoingAway, ce.Code)
	require.Equal(t, "bye", string(ce.Reason))
	n, _, err := srv.Recv(buf)
	require.NoError(t, err)
	require.Equal(t, "last words", string(buf[:n]))
	_, _, err = srv.Recv(buf)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, StatusGoingAway, ce.Code) // the echo
	code, _ := srv.Status()
	require.Equal(t, StatusGoingAway, code)
}

// Detach completes the handshake and returns the connection, with the
// bytes read past the peer's close.
func TestDetachReturnsTheConnection(t *testing.T) {
	srvNC, cliNC := tcpPair(t)
	srv := serverOn(t, srvNC, 0, nil)
	srv.enableDeflate(deflateParams{}) // context takeover: windows both ways
	go func() {
		// The peer: reads the close, answers it with a message still in
		// flight before it, then raw bytes in the same write.
		hdr := make([]byte, 4) // the server's close: header and code
		if _, err := io.ReadFull(cliNC, hdr); err != nil {
			return
		}
		_, _ = cliNC.Write(cat(cframe(true, OpText, []byte("dropped")), cframe(true, OpClose, []byte{0x03, 0xe8}), []byte("raw bytes")))
	}()
	nc, err := srv.Detach(StatusNormal, nil)
	require.NoError(t, err)
	got := make([]byte, 9)
	_, err = io.ReadFull(nc, got)
	require.NoError(t, err)
	require.Equal(t, "raw bytes", string(got))
	code, _ := srv.Status()
	require.Equal(t, StatusNormal, code)
	require.Nil(t, srv.sendWin, "the send window stays after Detach")
	require.Nil(t, srv.recvWin, "the receive window stays after Detach")
	_, _, err = srv.Recv(got)
	require.ErrorIs(t, err, ErrClosed)
	// nc is still open
	_, err = nc.Write([]byte("x"))
	require.NoError(t, err)
}

// Detach gives up after the close timeout when the peer never answers.
func TestDetachTimesOut(t *testing.T) {
	srvNC, _ := tcpPair(t)
	srv := serverOn(t, srvNC, 0, &Config{CloseTimeout: 50 * time.Millisecond})
	_, err := srv.Detach(StatusNormal, nil)
	require.True(t, isDeadline(err), "%v", err)
}

func TestCloseReasonIsCutOnARuneBoundary(t *testing.T) {
	m := &memConn{}
	c := serverOn(t, m, 0, nil)
	reason := []byte(string(make([]byte, 121)) + "€") // 124 bytes: the € must go
	require.NoError(t, c.Done(StatusNormal, reason))
	out := m.out.Bytes()
	require.Equal(t, byte(2+121), out[1])
	_, err := checkClose(out[2:])
	require.NoError(t, err)
	require.ErrorIs(t, c.Done(1005, nil), errCloseCodeArg)
}

// A peer still sending a frame the server refused gets the close frame
// with 1009, not a connection reset.
func TestViolationCloseCodeSurvivesAPeerStillSending(t *testing.T) {
	srvNC, cliNC := tcpPair(t)
	srv := serverOn(t, srvNC, 0, &Config{MaxMessageSize: 1000})
	cli := clientOn(t, cliNC, 0, nil)
	go func() { _ = cli.Send(Binary, make([]byte, 4<<20)) }()
	_, _, err := srv.Recv(make([]byte, 100))
	require.ErrorIs(t, err, ErrMessageTooBig)
	time.Sleep(50 * time.Millisecond) // the client reads only after the server is done
	_, _, err = cli.Recv(make([]byte, 100))
	var ce *CloseError
	require.ErrorAs(t, err, &ce, "%v", err)
	require.Equal(t, StatusMessageTooBig, ce.Code)
}

// Both sides close at the same moment: each gets the other's close frame,
// neither hangs, and both report the code.
func TestBothCloseAtOnce(t *testing.T) {
	for range 20 {
		srv, cli := wsPair(t, nil)
		errs := make(chan error, 2)
		for _, c := range []*Conn{srv, cli} {
			go func() {
				if err := c.Done(StatusGoingAway, []byte("bye")); err != nil {
					errs <- err
					return
				}
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				_, _, err := c.Recv(make([]byte, 10))
				errs <- err
			}()
		}
		for range 2 {
			var ce *CloseError
			require.ErrorAs(t, <-errs, &ce)
			require.Equal(t, StatusGoingAway, ce.Code)
		}
	}
}

// Sending a close and receiving the peer's allocates nothing.
func TestAllocsClosePath(t *testing.T) {
	skipIfRace(t)
	stream := cframe(true, OpClose, []byte{0x03, 0xe8, 'o', 'k'})
	const runs = 50
	conns := make([]memConn, runs+1)
	sts := make([]Storage, runs+1)
	for i := range conns {
		conns[i].in = stream
		conns[i].out.Grow(64)
	}
	buf := make([]byte, 16)
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		c, _ := AttachServer(&conns[i], NoHTTP, &sts[i], nil)
		i++
		if err := c.Done(StatusNormal, []byte("done")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Recv(buf); err == nil {
			t.Fatal("no close")
		}
	})
	require.Zero(t, allocs)
}
