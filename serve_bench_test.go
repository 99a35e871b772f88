package wsmem

import (
	"testing"
	"time"
)

// countHandler counts data messages.
type countHandler struct {
	NopHandler
	n int
}

func (h *countHandler) OnMessage(*Conn, Flags, []byte) { h.n++ }

// BenchmarkServe: one op is one 16-byte binary message received by Serve
// over loopback TCP, from a client that writes them in 64 KiB bursts, so
// that most messages come out of the read buffer without a system call:
// what Serve adds per message shows. heartbeat=on sets PingInterval, and
// Serve then arms a read deadline before each message.
func BenchmarkServe(b *testing.B) {
	for _, hb := range []struct {
		name string
		cfg  *Config
	}{
		{"off", &Config{}},
		{"on", &Config{PingInterval: 30 * time.Second}},
	} {
		b.Run("heartbeat="+hb.name, func(b *testing.B) {
			s, cl := tcpPair(b)
			srv := serverOn(b, s, 0, hb.cfg)
			frame := []byte{0x82, 0x80 | 16, 1, 2, 3, 4}
			frame = append(frame, make([]byte, 16)...)
			burst := make([]byte, 0, 64<<10)
			for len(burst)+len(frame) <= cap(burst) {
				burst = append(burst, frame...)
			}
			perBurst := len(burst) / len(frame)
			closeFrame := []byte{0x88, 0x80 | 2, 0, 0, 0, 0, 0x03, 0xe8}
			b.SetBytes(16)
			b.ReportAllocs()
			b.ResetTimer()
			done := make(chan error, 1)
			go func() {
				left := b.N
				for left > 0 {
					n := min(left, perBurst)
					if _, err := cl.Write(burst[:n*len(frame)]); err != nil {
						done <- err
						return
					}
					left -= n
				}
				_, err := cl.Write(closeFrame)
				done <- err
			}()
			h := new(countHandler)
			_ = srv.Serve(h)
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			if h.n != b.N {
				b.Fatalf("%d messages of %d", h.n, b.N)
			}
		})
	}
}
