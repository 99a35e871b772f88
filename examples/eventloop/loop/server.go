package loop

import (
	"errors"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/wsmem/wsmem"
	"golang.org/x/sys/unix"
)

// Config configures a Server. The zero value serves with the defaults.
type Config struct {
	// Loops is the number of event loops (default: one per CPU).
	Loops int
	// WS is the wsmem configuration of the connections (nil: the
	// defaults). Each loop uses a copy with its own CheckTarget, which
	// routes /echo and /chat and refuses other targets with 404, and with
	// MaxQueued, the outbound budget, at 1 MiB unless set: a connection
	// whose send is refused for it is dropped (see budget.go).
	WS *wsmem.Config
	// OnOpen, if set, is called by a loop each time a connection completes
	// its opening handshake, with its protocol ("echo" or "chat"). It runs
	// on the loop: keep it short.
	OnOpen func(protocol string)
}

// Server is a set of event loops serving one listening socket.
type Server struct {
	cfg    Config
	lnfd   int
	loops  []*loop
	closed atomic.Bool
	mu     sync.Mutex // Close wakes the loops under it; Serve closes them under it
	done   sync.WaitGroup
}

// Listen opens a non-blocking listening TCP socket on addr (host:port,
// IPv4 or IPv6; port 0 picks a free one) and returns a Server for it.
// Serve starts it.
func Listen(addr string, cfg Config) (*Server, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, err
	}
	family, sa := unix.AF_INET, unix.Sockaddr(nil)
	if ip4 := ta.IP.To4(); ip4 != nil || ta.IP == nil {
		a := &unix.SockaddrInet4{Port: ta.Port}
		copy(a.Addr[:], ip4)
		sa = a
	} else {
		family = unix.AF_INET6
		a := &unix.SockaddrInet6{Port: ta.Port}
		copy(a.Addr[:], ta.IP.To16())
		sa = a
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := listenOn(fd, sa); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return newServer(fd, cfg)
}

func listenOn(fd int, sa unix.Sockaddr) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return err
	}
	if err := unix.Bind(fd, sa); err != nil {
		return err
	}
	return unix.Listen(fd, unix.SOMAXCONN)
}

// FromListener returns a Server for a copy of ln's socket (ln must be a
// *net.TCPListener or another listener with SyscallConn). Nothing must
// call ln.Accept while the Server runs; ln stays the caller's to close.
func FromListener(ln net.Listener, cfg Config) (*Server, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, errors.New("loop: listener has no file descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, derr := -1, error(nil)
	if err := raw.Control(func(s uintptr) { fd, derr = unix.Dup(int(s)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return newServer(fd, cfg)
}

// newServer makes the loops for the listening socket lnfd.
func newServer(lnfd int, cfg Config) (*Server, error) {
	if cfg.Loops <= 0 {
		cfg.Loops = runtime.NumCPU()
	}
	s := &Server{cfg: cfg, lnfd: lnfd}
	for range cfg.Loops {
		l, err := newLoop(s)
		if err != nil {
			s.closeLoops()
			unix.Close(lnfd)
			return nil, err
		}
		s.loops = append(s.loops, l)
	}
	return s, nil
}

// Addr returns the address the server listens on, as host:port.
func (s *Server) Addr() string {
	sa, err := unix.Getsockname(s.lnfd)
	if err != nil {
		return ""
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	}
	return ""
}

// Serve runs the loops, each in its own goroutine, until Close; then it
// closes every connection and the listening socket. It returns the first
// error a loop failed with, nil after Close.
func (s *Server) Serve() error {
	errs := make([]error, len(s.loops))
	for i, l := range s.loops {
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			errs[i] = l.run()
			if errs[i] != nil {
				_ = s.Close() // one loop failed: stop the others
			}
		}()
	}
	s.done.Wait()
	s.closeLoops()
	unix.Close(s.lnfd)
	return errors.Join(errs...)
}

// Close stops the loops; Serve returns once they have.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	for _, l := range s.loops {
		l.wakeUp()
	}
	return nil
}

// closeLoops releases each loop's connections and descriptors.
func (s *Server) closeLoops() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.loops {
		l.close()
	}
}
