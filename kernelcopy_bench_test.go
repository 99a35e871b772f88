package wsmem

import (
	"fmt"
	"io"
	"net"
	"testing"
)

// ackedTCP returns the writing end of a loopback TCP connection whose
// other end a goroutine reads in messages of n bytes, answering each with
// one byte, and a function that waits for that byte. Waiting after each
// write leaves the kernel's socket-buffer page free before the next, as
// in request and response traffic.
func ackedTCP(b *testing.B, n int) (net.Conn, func() error) {
	w, r := tcpPair(b)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, n)
		for {
			if _, err := io.ReadFull(r, buf); err != nil {
				return
			}
			if _, err := r.Write(buf[:1]); err != nil {
				return
			}
		}
	}()
	b.Cleanup(func() {
		w.Close()
		<-done
		r.Close()
	})
	var ack [1]byte
	return w, func() error {
		_, err := io.ReadFull(w, ack[:])
		return err
	}
}

// BenchmarkKernelCopyAlias shows the kernel's cost that kernelCopyAliases
// avoids, without wsmem: 64 KiB written to loopback TCP after a 4-byte
// header, each write acknowledged before the next (see ackedTCP), the
// payload at page offsets 0, 4, 36 and 2048, by one writev of header and
// payload (mode=writev), or by one write of both copied into a buffer at
// page offset 0 (mode=copy0) or where safeStart says (mode=copysafe, as
// writeCopied does). On AMD Zen 3, where the kernel's leftover in its
// socket page is a few bytes, the writev of a payload at page offset 0 or
// 4 and every copy0 run take about twice as long as the others.
func BenchmarkKernelCopyAlias(b *testing.B) {
	const size = 64 << 10
	hdr := []byte{0x82, 126, 0, 0}
	for _, off := range []int{0, 4, 36, 2048} {
		for _, mode := range []string{"writev", "copy0", "copysafe"} {
			b.Run(fmt.Sprintf("off=%d/mode=%s", off, mode), func(b *testing.B) {
				nc, wait := ackedTCP(b, size+len(hdr))
				p := pageStart(size)[off : off+size]
				frame := pageStart(size + len(hdr))
				if mode == "copysafe" {
					frame = frame[safeStart(frame):]
				}
				frame = frame[:size+len(hdr)]
				b.SetBytes(size)
				for b.Loop() {
					var err error
					if mode == "writev" {
						bufs := net.Buffers{hdr, p}
						_, err = bufs.WriteTo(nc)
					} else {
						copy(frame, hdr)
						copy(frame[len(hdr):], p)
						_, err = nc.Write(frame)
					}
					if err == nil {
						err = wait()
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkServerSendLoopback sends 64 KiB messages from a server over
// loopback TCP, each acknowledged before the next, the payload at the same page offsets as
// BenchmarkKernelCopyAlias: at 0 and 4 Send copies it (kernelCopyAliases),
// at 36 and 2048 it writes it with writev.
func BenchmarkServerSendLoopback(b *testing.B) {
	const size = 64 << 10
	for _, off := range []int{0, 4, 36, 2048} {
		b.Run(fmt.Sprintf("off=%d", off), func(b *testing.B) {
			nc, wait := ackedTCP(b, size+4)
			c, err := AttachServer(nc, NoHTTP, new(Storage), nil)
			if err != nil {
				b.Fatal(err)
			}
			p := pageStart(size)[off : off+size]
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Send(Binary, p); err != nil {
					b.Fatal(err)
				}
				if err := wait(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
