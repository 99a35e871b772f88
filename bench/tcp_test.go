package bench

// tcp: the floor under the echo scenario, not a peer. The frames a
// WebSocket echo puts on the wire (a masked client frame one way, a server
// frame the other, both built once by appendFrame with a zero masking key,
// so that the payload travels as it is) go over the same loopback TCP with
// conn.Write and io.ReadFull, into buffers made once, with no parsing,
// masking or checking: what is left is the kernel's and the Go runtime's
// part of a round trip, which every library pays. run.sh prints it as a
// column and leaves it out of the ratios (benchratio -skip).

import (
	"io"
	"net"
)

// tcpBaseline is the echo floor's lib entry; echoLibs appends it.
var tcpBaseline = &lib{name: "tcp", echoServe: tcpEchoServe, echoClient: tcpEchoClient}

// maskKeyLen is how much longer a masked frame is than the same frame
// unmasked.
const maskKeyLen = 4

// tcpEchoServe reads each client frame of size payload bytes whole and
// writes back a server frame holding its payload.
func tcpEchoServe(ln net.Listener, size int) {
	serveEach(ln, func(nc net.Conn) {
		out := appendFrame(nil, opBinary, false, [4]byte{}, make([]byte, size))
		in := make([]byte, len(out)+maskKeyLen)
		for {
			if _, err := io.ReadFull(nc, in); err != nil {
				return
			}
			copy(out[len(out)-size:], in[len(in)-size:])
			if _, err := nc.Write(out); err != nil {
				return
			}
		}
	})
}

// tcpEchoClient sends p in a masked frame and hands the payload of each
// reply to each.
func tcpEchoClient(addr string, p []byte, each func([]byte) bool) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	out := appendFrame(nil, opBinary, true, [4]byte{}, p)
	in := make([]byte, len(out)-maskKeyLen)
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
