package wsmem

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestStorageSize(t *testing.T) {
	size := unsafe.Sizeof(Storage{})
	t.Logf("unsafe.Sizeof(Storage{}) = %d bytes", size)
	require.LessOrEqual(t, size, uintptr(512))
}

// idleConn serves its stream, then, on the read that would block for the
// next message, records whether the connection holds any pooled buffer.
type idleConn struct {
	memConn
	c            *Conn
	idleReads    int
	heldWhenIdle bool
}

func (i *idleConn) Read(p []byte) (int, error) {
	if len(i.in) == 0 {
		i.idleReads++
		c := i.c
		if c.rpool != nil || c.msg != nil || c.partial != nil || c.pending != nil || c.zbuf != nil || c.infl != nil {
			i.heldWhenIdle = true
		}
		return 0, io.EOF
	}
	return i.memConn.Read(p)
}

// A connection that sits waiting for its next message holds no pooled
// buffer, whichever receive call waits, even right after a large message.
func TestIdleReceiverHoldsNoPooledBuffer(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 50000)
	stream := cat(cframe(true, OpBinary, big), cframe(false, OpText, []byte("frag")), cframe(true, OpContinuation, []byte("ment")),
		cframe(true, OpBinary, bytes.Repeat([]byte("y"), 3000)))
	receivers := map[string]func(c *Conn) error{
		"Recv": func(c *Conn) error {
			buf := make([]byte, 60000)
			for {
				if _, _, err := c.Recv(buf); err != nil {
					return err
				}
			}
		},
		"RecvL": func(c *Conn) error {
			bufs := [][]byte{make([]byte, 30000), make([]byte, 30000)}
			for {
				if _, _, err := c.RecvL(bufs); err != nil {
					return err
				}
			}
		},
		"Next": func(c *Conn) error {
			for {
				if _, _, err := c.Next(); err != nil {
					return err
				}
			}
		},
		"reader": func(c *Conn) error {
			buf := make([]byte, 1000)
			for {
				_, r, err := c.NextReader()
				if err != nil {
					return err
				}
				for {
					if _, err := r.Read(buf); err == io.EOF {
						break
					} else if err != nil {
						return err
					}
				}
			}
		},
		"Serve": func(c *Conn) error { return c.Serve(NopHandler{}) },
	}
	// The same messages compressed (context takeover), as a client sends
	// them.
	params := deflateParams{}
	cl, _ := NewPushClient(NoHTTP, new(Storage), nil)
	cl.enableDeflate(params)
	var zstream []byte
	noisy := make([]byte, 16<<10) // hex of random bytes: it compresses to about half
	for i := range noisy {
		noisy[i] = "0123456789abcdef"[rand.IntN(16)]
	}
	for _, m := range [][]byte{noisy} { // read straight into the message buffer after a header read that filled the scratch
		zstream, _ = cl.AppendSend(zstream, Text, m)
	}
	require.Greater(t, len(zstream), 8<<10)
	for _, compressed := range []bool{false, true} {
		for name, recv := range receivers {
			ic := &idleConn{memConn: memConn{in: stream, chunk: 1500}}
			ic.c = serverOn(t, ic, 0, nil)
			if compressed {
				ic.in = zstream
				ic.c.enableDeflate(params)
				name += " compressed"
			}
			require.Error(t, recv(ic.c), name)
			require.Equal(t, 1, ic.idleReads, name)
			require.False(t, ic.heldWhenIdle, "%s held a pooled buffer while waiting", name)
		}
	}
}

// A connection given the caller's read and write buffers works through
// them: messages of every size arrive intact, a message that fits never
// takes a pooled read buffer, and nothing is allocated.
func TestCallerBuffers(t *testing.T) {
	srvNC, cliNC := tcpPair(t)
	slab := make([]byte, 3*1024)
	bufs := &Buffers{Read: slab[:2048], Write: slab[2048:]}
	st := new(Storage)
	st.SetBuffers(bufs)
	srv, err := AttachServer(srvNC, NoHTTP, st, nil)
	require.NoError(t, err)
	cli := clientOn(t, cliNC, 0, nil)
	inSlab := func(b []byte) bool {
		return len(b) > 0 && &b[0] == &slab[0]
	}
	for _, size := range []int{0, 1, 125, 1000, 2040, 5000, 70000} {
		p := bytes.Repeat([]byte{byte(size)}, size)
		go func() { _ = cli.Send(Binary, p) }()
		typ, got, err := srv.Next()
		require.NoError(t, err, size)
		require.Equal(t, Binary, typ)
		require.Equal(t, p, got, size)
		if size <= 1000 {
			require.True(t, inSlab(srv.rbuf), "size %d: read outside the caller's buffer", size)
			require.Nil(t, srv.rpool, size)
		}
		// The server's answer is assembled in the caller's write buffer.
		require.NoError(t, srv.Send(Binary, p))
		buf := make([]byte, size+1)
		n, _, err := cli.Recv(buf)
		require.NoError(t, err, size)
		require.Equal(t, p, buf[:n], size)
	}
	if !raceEnabled {
		// Through a connection that does not care how it is written to, so
		// that small frames use the write buffer too.
		st := new(Storage)
		st.SetBuffers(&Buffers{Read: make([]byte, 1024), Write: make([]byte, 1024)})
		frame := cframe(true, OpText, []byte("hello"))
		c, err := AttachServer(&loopConn{stream: frame}, NoHTTP, st, nil)
		require.NoError(t, err)
		buf := make([]byte, 16)
		requireNoAllocs(t, "Recv+Send with caller buffers", func() {
			n, _, _ := c.Recv(buf)
			_ = c.Send(Text, buf[:n])
			_ = c.Ping(buf[:n])
		})
	}
	// Buffers too short are ignored.
	st = new(Storage)
	st.SetBuffers(&Buffers{Read: make([]byte, 10), Write: make([]byte, 10)})
	require.Nil(t, st.conn.readSlab())
	require.Nil(t, st.conn.writeSlab())
}
