package wsmem

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// TestServerSendSmallSizes checks a server's messages around the sizes
// where Send changes paths (125/126 and 65535/65536: the header grows;
// 256: vectored, except in memory, where every size is written directly),
// on every kind of connection and write buffer: the frame on the wire is the
// header and the payload, untouched.
func TestServerSendSmallSizes(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 200, 255, 256, 300, 65535, 65536, 70000}
	for _, size := range sizes {
		p := bytes.Repeat([]byte{'x'}, size)
		for i := range p {
			p[i] = byte(i)
		}
		want := sframe(true, OpBinary, p)
		// In memory (header and payload written apart), with the default
		// and the smallest write buffers, and a caller's short one.
		for _, setup := range []struct {
			name string
			cfg  *Config
			bufs *Buffers
		}{
			{"default", nil, nil},
			{"min-pool", &Config{WriteBufferSize: 1}, nil},
			{"short-slab", nil, &Buffers{Write: make([]byte, minWriteBuffer)}},
		} {
			m := &memConn{}
			st := new(Storage)
			st.SetBuffers(setup.bufs)
			c, err := AttachServer(m, NoHTTP, st, setup.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Send(Binary, p); err != nil {
				t.Fatalf("%d bytes, %s: %v", size, setup.name, err)
			}
			if !bytes.Equal(m.out.Bytes(), want) {
				t.Fatalf("%d bytes, %s, in memory: wrote % x, want % x", size, setup.name, m.out.Bytes(), want)
			}
			// Over TCP (joined in the write buffer), read by a client.
			srvNC, cliNC := tcpPair(t)
			st = new(Storage)
			st.SetBuffers(setup.bufs)
			srv, err := AttachServer(srvNC, NoHTTP, st, setup.cfg)
			if err != nil {
				t.Fatal(err)
			}
			cli := clientOn(t, cliNC, 0, nil)
			if err := srv.Send(Binary, p); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, size+MaxHeaderSize)
			n, typ, err := cli.Recv(buf)
			if err != nil || typ != Binary || !bytes.Equal(buf[:n], p) {
				t.Fatalf("%d bytes, %s, over TCP: got %d bytes %v %v", size, setup.name, n, typ, err)
			}
		}
	}
}

// timeoutErr is a write deadline's error.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
func (timeoutErr) Is(target error) bool {
	return target == os.ErrDeadlineExceeded
}

// TestFrameFailed checks what a frame written in one piece (Send's small
// path, a server's pong) leaves when its write fails: queued rest after a
// deadline inside it, nothing after one before it, a dead send side after
// another error.
func TestFrameFailed(t *testing.T) {
	frame := sframe(true, OpText, []byte("hello"))
	c := serverOn(t, &memConn{}, 0, nil)
	c.wmu.Lock()
	err := c.frameFailed(timeoutErr{}, frame, 3)
	if !errors.Is(err, ErrQueued) || c.pending == nil || !bytes.Equal(c.pending.B, frame[3:]) {
		t.Fatalf("deadline inside the frame: %v, queued %v", err, c.pending)
	}
	c.wmu.Unlock()

	c = serverOn(t, &memConn{}, 0, nil)
	c.wmu.Lock()
	if err := c.frameFailed(timeoutErr{}, frame, 0); !isTimeout(err) || errors.Is(err, ErrQueued) || c.pending != nil {
		t.Fatalf("deadline before the frame: %v, queued %v", err, c.pending)
	}
	broken := errors.New("broken pipe")
	if err := c.frameFailed(broken, frame, 2); err != broken || c.writeErr != broken || c.pending != nil {
		t.Fatalf("other error: %v, writeErr %v", err, c.writeErr)
	}
	c.wmu.Unlock()
}
