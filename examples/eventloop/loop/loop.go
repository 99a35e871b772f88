package loop

import (
	"sync"

	"github.com/wsmem/wsmem"
	"golang.org/x/sys/unix"
)

// Sizes of a loop's buffers.
const (
	readBufferSize = 64 << 10  // lent to every read
	outputKeep     = 256 << 10 // the output buffer is kept up to this capacity
	acceptBatch    = 64        // connections accepted per listener event
)

// What an epoll event's data holds besides a slot index.
const (
	tagListener int32 = -1
	tagWake     int32 = -2
)

// loop is one event loop: an epoll instance, the connections it accepted,
// and the buffers it lends them.
type loop struct {
	srv     *Server
	cfg     wsmem.Config // the loop's copy of Config.WS, with its CheckTarget
	ep      int          // the epoll instance
	wake    int          // an eventfd: Close and broadcasts from other loops wake the loop
	slab    slab
	rbuf    []byte
	wbuf    []byte
	cur     *conn // the connection being fed, for CheckTarget and the Handler methods
	refused bool  // a send from the Handler was refused for the budget
	events  [128]unix.EpollEvent

	mu    sync.Mutex // guards inbox, which other loops post to
	inbox []*wsmem.PreparedMessage
	spare []*wsmem.PreparedMessage // the inbox being drained
}

func newLoop(s *Server) (*loop, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &loop{srv: s, ep: ep, wake: -1, slab: newSlab()}
	if s.cfg.WS != nil {
		l.cfg = *s.cfg.WS
	}
	if l.cfg.MaxQueued <= 0 {
		l.cfg.MaxQueued = defaultMaxQueued
	}
	l.cfg.CheckTarget = l.checkTarget
	if l.wake, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		l.close()
		return nil, err
	}
	if err := l.ctl(unix.EPOLL_CTL_ADD, l.wake, unix.EPOLLIN, tagWake); err != nil {
		l.close()
		return nil, err
	}
	if err := l.ctl(unix.EPOLL_CTL_ADD, s.lnfd, unix.EPOLLIN|unix.EPOLLEXCLUSIVE, tagListener); err != nil {
		l.close()
		return nil, err
	}
	l.rbuf = make([]byte, readBufferSize)
	return l, nil
}

// ctl adds or changes fd's registration, tagging its events with data.
func (l *loop) ctl(op, fd int, events uint32, data int32) error {
	ev := unix.EpollEvent{Events: events, Fd: data}
	return unix.EpollCtl(l.ep, op, fd, &ev)
}

// run waits for events and handles them until the server closes.
func (l *loop) run() error {
	for !l.srv.closed.Load() {
		n, err := unix.EpollWait(l.ep, l.events[:], -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range l.events[:n] {
			switch ev.Fd {
			case tagListener:
				l.accept()
			case tagWake:
				var b [8]byte
				_, _ = unix.Read(l.wake, b[:])
			default:
				l.ready(ev.Fd, ev.Events)
			}
		}
		l.drainInbox()
	}
	return nil
}

// accept takes the connections waiting on the listening socket.
func (l *loop) accept() {
	for range acceptBatch {
		fd, _, err := unix.Accept4(l.srv.lnfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN: another loop took it, or none is left; EMFILE: try on the next event
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		i, e := l.slab.get()
		e.fd, e.state = int32(fd), stateHandshake
		wsmem.NewPushServer(0, &e.st, &l.cfg)
		if err := l.ctl(unix.EPOLL_CTL_ADD, fd, unix.EPOLLIN, i); err != nil {
			l.drop(i, e)
		}
	}
}

// ready handles the events of slot i.
func (l *loop) ready(i int32, events uint32) {
	e := l.slab.at(i)
	if e.state == stateFree {
		return // dropped earlier in this batch
	}
	if events&(unix.EPOLLOUT|unix.EPOLLERR) != 0 && e.out != nil {
		l.flush(i, e)
		if e.state == stateFree {
			return
		}
	}
	if events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) != 0 && e.state != stateClosing {
		l.readable(i, e)
	}
}

// readable reads what slot i's socket has and feeds it. What Feed answers
// is appended to the pending output if there is some (so that the budget
// counts it), else collected in the loop's output buffer and written.
func (l *loop) readable(i int32, e *conn) {
	n, err := unix.Read(int(e.fd), l.rbuf)
	if err == unix.EAGAIN {
		return
	}
	if err != nil || n == 0 {
		l.drop(i, e) // the peer is gone, without a closing handshake
		return
	}
	was, pending := e.state, e.out != nil
	out := l.wbuf[:0]
	if pending {
		out = e.out
	}
	l.cur, l.refused = e, false
	out, ferr := e.st.Conn().Feed(l.rbuf[:n], l, out)
	l.cur = nil
	if l.refused {
		l.drop(i, e) // a slow consumer
		return
	}
	if was == stateHandshake && ferr == nil && e.state != stateHandshake && l.srv.cfg.OnOpen != nil {
		l.srv.cfg.OnOpen(protocolName(e.state))
	}
	if ferr != nil {
		l.closing(i, e)
	}
	if pending {
		e.out = out
	} else {
		l.send(i, e, out)
		if cap(out) <= outputKeep {
			l.wbuf = out[:0]
		}
	}
	if e.state == stateClosing && e.out == nil {
		l.drop(i, e)
	}
}

// closing marks slot i as over: it stops reading it, and closes it once its
// output is written.
func (l *loop) closing(i int32, e *conn) {
	if e.state == stateClosing {
		return
	}
	e.state = stateClosing
	if e.out != nil {
		_ = l.ctl(unix.EPOLL_CTL_MOD, int(e.fd), l.watch(e), i)
	}
}

// drop closes slot i's socket at once and frees the slot and the buffers
// its connection may hold.
func (l *loop) drop(i int32, e *conn) {
	unix.Close(int(e.fd)) // also removes it from the epoll set
	_ = e.st.Conn().Close()
	l.slab.put(i)
}

// wakeUp interrupts the loop's wait; any goroutine may call it.
func (l *loop) wakeUp() {
	one := [8]byte{1}
	_, _ = unix.Write(l.wake, one[:])
}

// close closes every connection of the loop and its descriptors.
func (l *loop) close() {
	for i := range l.slab.used {
		if e := l.slab.at(i); e.state != stateFree {
			l.drop(i, e)
		}
	}
	if l.wake >= 0 {
		unix.Close(l.wake)
		l.wake = -1
	}
	if l.ep >= 0 {
		unix.Close(l.ep)
		l.ep = -1
	}
}
