package wsmem

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

var codecBenchSizes = []int{16, 125, 1024, 16 << 10, 64 << 10, 1 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkSend writes one message per op to a connection that discards
// what it gets (an in-memory net.Conn: the buffered path, one write per
// frame).
func BenchmarkSend(b *testing.B) {
	for _, side := range []string{"server", "client"} {
		for _, size := range codecBenchSizes {
			b.Run(fmt.Sprintf("side=%s/size=%s", side, sizeName(size)), func(b *testing.B) {
				var st Storage
				var c *Conn
				if side == "server" {
					c, _ = AttachServer(&loopConn{stream: []byte{0}}, NoHTTP, &st, nil)
				} else {
					c, _ = AttachClient(&loopConn{stream: []byte{0}}, NoHTTP, "/", "h", &st, nil)
				}
				p := bytes.Repeat([]byte("a"), size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Send(Binary, p); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRecv reads masked client messages from a replayed stream, with
// Recv into one reused buffer and with the streaming reader.
func BenchmarkRecv(b *testing.B) {
	for _, api := range []string{"Recv", "Next", "reader"} {
		for _, size := range codecBenchSizes {
			b.Run(fmt.Sprintf("api=%s/size=%s", api, sizeName(size)), func(b *testing.B) {
				payload := bytes.Repeat([]byte("a"), size)
				frame := cframe(true, OpBinary, payload)
				var stream []byte
				for len(stream) < 64<<10 || len(stream) < 4*len(frame) {
					stream = append(stream, frame...)
				}
				var st Storage
				c, _ := AttachServer(&loopConn{stream: stream}, NoHTTP, &st, nil)
				buf := make([]byte, size)
				small := make([]byte, 32<<10)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					switch api {
					case "Recv":
						if n, _, err := c.Recv(buf); err != nil || n != size {
							b.Fatal(n, err)
						}
					case "Next":
						if _, p, err := c.Next(); err != nil || len(p) != size {
							b.Fatal(len(p), err)
						}
					case "reader":
						_, r, err := c.NextReader()
						if err != nil {
							b.Fatal(err)
						}
						for {
							if _, err := r.Read(small); err == io.EOF {
								break
							} else if err != nil {
								b.Fatal(err)
							}
						}
					}
				}
			})
		}
	}
}
