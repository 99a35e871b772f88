package loop

import "golang.org/x/sys/unix"

// send writes b, from the loop's output buffer, to slot i's socket, which
// has no output pending. Only what the socket refuses is copied, into the
// slot's own slice, and EPOLLOUT is requested while that slice is not
// empty. A write error drops the connection.
func (l *loop) send(i int32, e *conn, b []byte) {
	if len(b) == 0 {
		return
	}
	n, err := unix.Write(int(e.fd), b)
	if err != nil && err != unix.EAGAIN {
		l.drop(i, e)
		return
	}
	if b = b[max(n, 0):]; len(b) == 0 {
		return
	}
	e.out = append([]byte(nil), b...)
	if err := l.ctl(unix.EPOLL_CTL_MOD, int(e.fd), l.watch(e), i); err != nil {
		l.drop(i, e)
	}
}

// flush writes slot i's pending output once its socket is writable, and
// stops asking for EPOLLOUT when it is all written (closing the socket
// then if the connection is over).
func (l *loop) flush(i int32, e *conn) {
	n, err := unix.Write(int(e.fd), e.out)
	if err == unix.EAGAIN {
		return
	}
	if err != nil {
		l.drop(i, e)
		return
	}
	if e.out = e.out[n:]; len(e.out) > 0 {
		return
	}
	e.out = nil
	if e.state == stateClosing {
		l.drop(i, e)
		return
	}
	if err := l.ctl(unix.EPOLL_CTL_MOD, int(e.fd), l.watch(e), i); err != nil {
		l.drop(i, e)
	}
}

// watch returns the events to wait for on e: input unless it is over,
// output while some is pending.
func (l *loop) watch(e *conn) uint32 {
	var ev uint32
	if e.state != stateClosing {
		ev |= unix.EPOLLIN
	}
	if e.out != nil {
		ev |= unix.EPOLLOUT
	}
	return ev
}
