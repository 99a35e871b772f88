package wsmem

import (
	"bytes"
	"io"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestStorageSize(t *testing.T) {
	size := unsafe.Sizeof(Storage{})
	t.Logf("unsafe.Sizeof(Storage{}) = %d bytes", size)
	require.LessOrEqual(t, size, uintptr(1024))
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
		if c.rpool != nil || c.msg != nil || c.partial != nil || c.pending != nil {
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
	for name, recv := range receivers {
		ic := &idleConn{memConn: memConn{in: stream, chunk: 1500}}
		ic.c = serverOn(t, ic, 0, nil)
		require.Error(t, recv(ic.c), name)
		require.Equal(t, 1, ic.idleReads, name)
		require.False(t, ic.heldWhenIdle, "%s held a pooled buffer while waiting", name)
	}
}
