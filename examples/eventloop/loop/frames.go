package loop

import (
	"net"
	"time"

	"github.com/wsmem/wsmem"
)

// frames gets the frame a PreparedMessage holds, as a server sends it. The
// push API has no AppendPrepared, and SendPrepared on a push connection
// outside Feed writes where nobody can read it; so SendPrepared goes to a
// blocking server Conn (NoHTTP, no compression) over a net.Conn that keeps
// the slice it is given: the PreparedMessage's own frame, not a copy. With
// an AppendPrepared in wsmem, drainInbox would call it per connection and
// this file would go.
type frames struct {
	st   wsmem.Storage
	c    *wsmem.Conn
	sink sink
}

func (f *frames) init() {
	f.c, _ = wsmem.AttachServer(&f.sink, wsmem.NoHTTP, &f.st, nil) // NoHTTP: no error
}

// of returns m's frame; it must not be modified.
func (f *frames) of(m *wsmem.PreparedMessage) []byte {
	f.sink.last = nil
	_ = f.c.SendPrepared(m) // the sink never fails
	frame := f.sink.last
	f.sink.last = nil
	return frame
}

// sink is a net.Conn that keeps the last slice written to it.
type sink struct{ last []byte }

func (s *sink) Write(b []byte) (int, error)      { s.last = b; return len(b), nil }
func (s *sink) Read([]byte) (int, error)         { return 0, net.ErrClosed }
func (s *sink) Close() error                     { return nil }
func (s *sink) LocalAddr() net.Addr              { return sinkAddr{} }
func (s *sink) RemoteAddr() net.Addr             { return sinkAddr{} }
func (s *sink) SetDeadline(time.Time) error      { return nil }
func (s *sink) SetReadDeadline(time.Time) error  { return nil }
func (s *sink) SetWriteDeadline(time.Time) error { return nil }

type sinkAddr struct{}

func (sinkAddr) Network() string { return "sink" }
func (sinkAddr) String() string  { return "sink" }
