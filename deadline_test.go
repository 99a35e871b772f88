package wsmem

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A frame delivered in chops across an expired read deadline is received
// intact afterwards, by every receive call.
func TestReadDeadlineResumesAtTheExactByte(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16000 bytes
	frame := cat(cframe(false, OpBinary, payload[:7000]), cframe(true, OpPing, []byte("p")), cframe(true, OpContinuation, payload[7000:]))
	// Cut inside the first header, inside the first payload, inside the
	// ping, inside the second header and inside the second payload.
	cuts := []int{1, 3, 500, 7005, 7008, 7012, 7015, 9000, len(frame)}
	receivers := map[string]func(c *Conn) ([]byte, error){
		"Recv": func(c *Conn) ([]byte, error) {
			buf := make([]byte, 20000)
			n, _, err := c.Recv(buf)
			return buf[:n], err
		},
		"RecvL": func(c *Conn) ([]byte, error) {
			bufs := [][]byte{make([]byte, 100), make([]byte, 9000), make([]byte, 10000)}
			n, _, err := c.RecvL(bufs)
			return cat(bufs...)[:n], err
		},
		"Next": func(c *Conn) ([]byte, error) {
			_, p, err := c.Next()
			return bytes.Clone(p), err
		},
	}
	for name, recv := range receivers {
		t.Run(name, func(t *testing.T) {
			srv, cli := tcpPair(t)
			c := serverOn(t, srv, 0, nil)
			prev, timeouts := 0, 0
			for _, cut := range cuts {
				_, err := cli.Write(frame[prev:cut])
				require.NoError(t, err)
				prev = cut
				if cut == len(frame) {
					break
				}
				require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Millisecond)))
				_, err = recv(c)
				require.True(t, isDeadline(err), "cut %d: %v", cut, err)
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				timeouts++
			}
			require.NoError(t, c.SetReadDeadline(time.Time{}))
			got, err := recv(c)
			require.NoError(t, err)
			require.Equal(t, payload, got)
			require.Equal(t, len(cuts)-1, timeouts)
			// the ping was answered exactly once
			pong := make([]byte, 3)
			_, err = io.ReadFull(cli, pong)
			require.NoError(t, err)
			require.Equal(t, sframe(true, OpPong, []byte("p")), pong)
		})
	}
	t.Run("Reader", func(t *testing.T) {
		srv, cli := tcpPair(t)
		c := serverOn(t, srv, 0, nil)
		var got []byte
		var r *MessageReader
		prev := 0
		for _, cut := range cuts {
			_, err := cli.Write(frame[prev:cut])
			require.NoError(t, err)
			prev = cut
			require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Millisecond)))
			for {
				if r == nil {
					_, r, err = c.NextReader()
					if err != nil {
						require.True(t, isDeadline(err), "%v", err)
						break
					}
				}
				buf := make([]byte, 1+rand.IntN(3000))
				n, err := r.Read(buf)
				got = append(got, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					require.True(t, isDeadline(err), "%v", err)
					break
				}
			}
		}
		require.Equal(t, payload, got)
	})
}

// A send whose deadline expires inside its frame keeps the rest of the
// frame; the next write sends it first, so the peer gets every message
// intact and in order. A send behind it joins the queue while the budget
// (Config.MaxQueued) allows, and is refused, sending nothing, when it does
// not.
func TestWriteDeadlineResumesAtTheExactByte(t *testing.T) {
	for _, side := range []string{"server", "client"} {
		for _, budget := range []int{1, 32 << 20} {
			t.Run(fmt.Sprintf("%s/budget=%d", side, budget), func(t *testing.T) {
				cfg := &Config{MaxQueued: budget}
				srvNC, cliNC := tcpPair(t)
				var snd, rcv *Conn
				if side == "server" {
					snd, rcv = serverOn(t, srvNC, 0, cfg), clientOn(t, cliNC, 0, nil)
				} else {
					snd, rcv = clientOn(t, cliNC, 0, cfg), serverOn(t, srvNC, 0, nil)
				}
				big := make([]byte, 8<<20)
				for i := range big {
					big[i] = byte(i * 7)
				}
				orig := bytes.Clone(big)
				// Nobody reads yet: the kernel buffers fill and the deadline
				// hits inside the frame.
				var err error
				for range 5 {
					require.NoError(t, snd.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
					err = snd.Send(Binary, big)
					// On a loaded machine the deadline can pass before the
					// first byte goes out: then nothing was sent or kept,
					// and the send may be tried again.
					if errors.Is(err, ErrQueued) || !isDeadline(err) || snd.Queued() != 0 {
						break
					}
				}
				require.ErrorIs(t, err, ErrQueued)
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				require.True(t, isDeadline(err))
				queued := snd.Queued()
				require.Greater(t, queued, 0)
				want := []string{string(orig)}
				err = snd.Send(Text, []byte("behind"))
				if budget == 1 {
					// Anything queued exceeds a budget of one byte.
					require.ErrorIs(t, err, ErrRefused)
					require.Equal(t, queued, snd.Queued())
				} else {
					require.ErrorIs(t, err, ErrQueued)
					require.Equal(t, queued+2+6+maskLen(side), snd.Queued())
					require.ErrorIs(t, snd.Ping([]byte("p")), ErrQueued)
					want = append(want, "behind")
				}
				want = append(want, "after")

				done := make(chan error, 1)
				var got []string
				go func() {
					buf := make([]byte, 9<<20)
					for range want {
						n, _, err := rcv.Recv(buf)
						if err != nil {
							done <- err
							return
						}
						got = append(got, string(buf[:n]))
					}
					done <- nil
				}()
				require.NoError(t, snd.SetWriteDeadline(time.Time{}))
				require.NoError(t, snd.Flush())
				require.Equal(t, 0, snd.Queued())
				require.NoError(t, snd.Send(Text, []byte("after")))
				require.NoError(t, <-done)
				require.Equal(t, want, got)
				require.Equal(t, orig, big, "the caller's bytes were modified")
			})
		}
	}
}

// maskLen is the masking key's size in the frames side sends.
func maskLen(side string) int {
	if side == "client" {
		return 4
	}
	return 0
}

// With DropSlow, a send refused for the budget closes the connection.
func TestDropSlow(t *testing.T) {
	srvNC, _ := tcpPair(t)
	c := serverOn(t, srvNC, 0, &Config{MaxQueued: 1 << 20, DropSlow: true})
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
	big := make([]byte, 8<<20)
	require.ErrorIs(t, c.Send(Binary, big), ErrQueued)
	require.ErrorIs(t, c.Send(Binary, []byte("x")), ErrRefused)
	require.ErrorIs(t, c.Send(Binary, []byte("x")), ErrClosed)
	_, _, err := c.Recv(make([]byte, 10))
	require.ErrorIs(t, err, ErrClosed)
}

// Deadlines come back as the net.Conn's timeout error, which net.Error
// users can test too.
func TestDeadlineErrorIsNetTimeout(t *testing.T) {
	srv, _ := tcpPair(t)
	c := serverOn(t, srv, 0, nil)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Millisecond)))
	_, _, err := c.Recv(make([]byte, 10))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())
	// the connection is still usable
	require.NoError(t, c.Send(Text, []byte("still here")))
}
