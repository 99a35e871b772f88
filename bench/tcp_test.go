package bench

// tcp: the floor under the echo scenario, not a peer. The same bytes a
// WebSocket echo puts on the wire (a masked client frame's header and the
// payload one way, an unmasked server frame's header and the payload the
// other) go over the same loopback TCP with conn.Write and io.ReadFull,
// into buffers made once, with no framing, masking or checking: what is
// left is the kernel's and the Go runtime's part of a round trip, which
// every library pays. run.sh prints it as a column and leaves it out of the
// ratios (benchratio -skip).

import (
	"io"
	"net"
)

// tcpBaseline is the echo floor's lib entry; echoLibs appends it.
var tcpBaseline = &lib{name: "tcp", echoServe: tcpEchoServe, echoClient: tcpEchoClient}

// frameHeaderLen is the length of the header of a frame of n payload bytes
// (RFC 6455 §5.2): 2 bytes, 2 or 8 more for the length, 4 more for a
// masking key.
func frameHeaderLen(n int, masked bool) int {
	h := 2
	switch {
	case n > 65535:
		h += 8
	case n > 125:
		h += 2
	}
	if masked {
		h += 4
	}
	return h
}

// tcpEchoServe reads each client message as a masked frame's bytes and
// writes back a server frame's.
func tcpEchoServe(ln net.Listener, size int) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			in := make([]byte, frameHeaderLen(size, true)+size)
			out := make([]byte, frameHeaderLen(size, false)+size)
			for {
				if _, err := io.ReadFull(nc, in); err != nil {
					return
				}
				copy(out[len(out)-size:], in[len(in)-size:])
				if _, err := nc.Write(out); err != nil {
					return
				}
			}
		}()
	}
}

// tcpEchoClient sends p in a masked frame's bytes (the header's bytes are
// zeros: nothing reads them) and hands each reply's payload to each.
func tcpEchoClient(addr string, p []byte, each func([]byte) bool) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	out := make([]byte, frameHeaderLen(len(p), true)+len(p))
	copy(out[len(out)-len(p):], p)
	in := make([]byte, frameHeaderLen(len(p), false)+len(p))
	for {
		if _, err := nc.Write(out); err != nil {
			return err
		}
		if _, err := io.ReadFull(nc, in); err != nil {
			return err
		}
		if !each(in[len(in)-len(p):]) {
			return nil
		}
	}
}
