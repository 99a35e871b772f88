package bench

// The scenarios. Every benchmark is named Scenario/key=value/.../lib=NAME so
// that `benchstat -col /lib` puts the libraries side by side; every one
// checks, before its timer starts, that the bytes received equal the bytes
// sent. The same drivers run once, untimed, as tests.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"unicode/utf8"
)

var (
	maskSizes  = []int{15, 125, 1 << 10, 4 << 10, 64 << 10, 1 << 20}
	ioSizes    = []int{16, 128, 1 << 10, 16 << 10, 1 << 20}
	echoSizes  = []int{1 << 10, 64 << 10}
	utf8Size   = 16 << 10
	readAPIs   = []string{apiMsg, apiStream}
	maskAligns = []int{0, 3}
)

// stopAfterChecks is the loop of an untimed run: the driver's checks, then
// no iteration.
func stopAfterChecks() bool { return false }

// runServerRead replays a stream of client frames of the given size into
// l's server side and receives them with api. It checks the first pass
// over the stream and one message more (the wrap-around) against the
// payloads sent, then receives one message per call of loop while loop
// returns true. Text messages are validated: by the library, or with
// utf8.Valid when the library does not.
func runServerRead(l *lib, api string, size int, text bool, loop func() bool) error {
	stream, payloads := clientStream(size, text)
	nc := newReplayConn(nil, stream)
	appValidate := text && !l.validatesUTF8
	var failure error
	checked, done := 0, false
	each := func(msg []byte) bool {
		if done {
			return false
		}
		if appValidate && !utf8.Valid(msg) {
			failure, done = errors.New("received text is not valid UTF-8"), true
			return false
		}
		if checked <= len(payloads) {
			if want := payloads[checked%len(payloads)]; !bytes.Equal(msg, want) {
				failure, done = fmt.Errorf("message %d: received %d bytes that differ from the %d sent", checked, len(msg), len(want)), true
				return false
			}
			checked++
			return true
		}
		if !loop() {
			done = true
			return false
		}
		return true
	}
	err := l.serverRead(nc, api, size, each)
	nc.Close()
	switch {
	case failure != nil:
		return failure
	case !done && err == nil:
		return errors.New("the read loop ended by itself")
	case !done:
		return err
	}
	return nil
}

// runWrite sends a message of size bytes from l's client (masked) or server
// side into a sink, checks the bytes written and that the caller's payload
// is untouched, then sends once per call of loop.
func runWrite(l *lib, client bool, size int, loop func() bool) error {
	p := binaryPayload(size, 99)
	orig := bytes.Clone(p)
	nc := newSinkConn(client)
	defer nc.Close()
	newWriter := l.serverWriter
	if client {
		newWriter = l.clientWriter
	}
	send, err := newWriter(nc)
	if err != nil {
		return err
	}
	for range 2 {
		nc.startCapture()
		if err := send(false, p); err != nil {
			return err
		}
		if err := checkMessage(nc.takeCapture(), opBinary, client, orig); err != nil {
			return err
		}
	}
	for loop() {
		if err := send(false, p); err != nil {
			return err
		}
	}
	if !bytes.Equal(p, orig) {
		return errors.New("sending modified the caller's payload")
	}
	return nil
}

// runEcho starts l's echo server on a loopback listener and runs round
// trips of size bytes with l's client: three checked ones, then one per
// call of loop.
func runEcho(l *lib, size int, loop func() bool) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan struct{})
	go func() {
		l.echoServe(ln, size)
		close(served)
	}()
	defer func() {
		ln.Close()
		<-served
	}()
	p := binaryPayload(size, 5)
	var failure error
	checked, done := 0, false
	each := func(msg []byte) bool {
		if done {
			return false
		}
		if checked < 3 {
			if !bytes.Equal(msg, p) {
				failure, done = fmt.Errorf("round trip %d: received %d bytes that differ from the %d sent", checked, len(msg), len(p)), true
				return false
			}
			checked++
			return true
		}
		if !loop() {
			done = true
			return false
		}
		return true
	}
	err = l.echoClient(ln.Addr().String(), p, each)
	switch {
	case failure != nil:
		return failure
	case !done && err == nil:
		return errors.New("the echo loop ended by itself")
	case !done:
		return err
	}
	return nil
}

// maskLibs are the libraries with an exported masking function, and the
// copy() baseline.
func maskLibs() []*lib {
	out := []*lib{}
	for _, l := range allLibs() {
		if l.mask != nil {
			out = append(out, l)
		}
	}
	return append(out, &lib{name: "copy"})
}

func naiveMask(b []byte, key [4]byte) {
	for i := range b {
		b[i] ^= key[i&3]
	}
}

// checkMask checks l.mask on size bytes at offset align against the naive
// loop.
func checkMask(l *lib, size, align int) error {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	buf := make([]byte, size+align+64)
	data := buf[align : align+size]
	copy(data, binaryPayload(size, 3))
	want := bytes.Clone(data)
	naiveMask(want, key)
	around := bytes.Clone(buf)
	l.mask(data, key)
	if !bytes.Equal(data, want) {
		return fmt.Errorf("mask of %d bytes at offset %d differs from the naive loop", size, align)
	}
	copy(around[align:], want)
	if !bytes.Equal(buf, around) {
		return fmt.Errorf("mask of %d bytes at offset %d wrote outside its slice", size, align)
	}
	return nil
}

// ---- benchmarks ----

func BenchmarkMask(b *testing.B) {
	for _, size := range maskSizes {
		b.Run("size="+sizeName(size), func(b *testing.B) {
			for _, align := range maskAligns {
				b.Run(fmt.Sprintf("align=%d", align), func(b *testing.B) {
					for _, l := range maskLibs() {
						b.Run("lib="+l.name, func(b *testing.B) {
							benchMask(b, l, size, align)
						})
					}
				})
			}
		})
	}
}

func benchMask(b *testing.B, l *lib, size, align int) {
	src := make([]byte, size+align+64)[align : align+size]
	copy(src, binaryPayload(size, 3))
	b.SetBytes(int64(size))
	b.ReportAllocs()
	if l.mask == nil { // the copy() baseline
		dst := make([]byte, size+align+64)[align : align+size]
		copy(dst, src)
		if !bytes.Equal(dst, src) {
			b.Fatal("copy failed")
		}
		for b.Loop() {
			copy(dst, src)
		}
		return
	}
	if err := checkMask(l, size, align); err != nil {
		b.Fatal(err)
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32()|1)
	for b.Loop() {
		l.mask(src, key)
	}
}

func BenchmarkServerRead(b *testing.B) {
	for _, api := range readAPIs {
		b.Run("api="+api, func(b *testing.B) {
			for _, size := range ioSizes {
				b.Run("size="+sizeName(size), func(b *testing.B) {
					for _, l := range allLibs() {
						b.Run("lib="+l.name, func(b *testing.B) {
							benchRead(b, l, api, size, false)
						})
					}
				})
			}
		})
	}
}

func benchRead(b *testing.B, l *lib, api string, size int, text bool) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	if err := runServerRead(l, api, size, text, b.Loop); err != nil {
		if errors.Is(err, errNoAPI) {
			b.Skip(err)
		}
		b.Fatal(err)
	}
}

func BenchmarkServerWrite(b *testing.B) { benchWrites(b, false) }
func BenchmarkClientWrite(b *testing.B) { benchWrites(b, true) }

func benchWrites(b *testing.B, client bool) {
	for _, size := range ioSizes {
		b.Run("size="+sizeName(size), func(b *testing.B) {
			for _, l := range allLibs() {
				b.Run("lib="+l.name, func(b *testing.B) {
					b.SetBytes(int64(size))
					b.ReportAllocs()
					if err := runWrite(l, client, size, b.Loop); err != nil {
						b.Fatal(err)
					}
				})
			}
		})
	}
}

// BenchmarkEcho counts round trips over loopback TCP: the client sends a
// message, the server echoes it, the client receives it. SetBytes counts
// the message once.
func BenchmarkEcho(b *testing.B) {
	for _, size := range echoSizes {
		b.Run("size="+sizeName(size), func(b *testing.B) {
			for _, l := range allLibs() {
				b.Run("lib="+l.name, func(b *testing.B) {
					b.SetBytes(int64(size))
					b.ReportAllocs()
					if err := runEcho(l, size, b.Loop); err != nil {
						b.Fatal(err)
					}
				})
			}
		})
	}
}

// BenchmarkUTF8Read receives 16 KiB text messages, about 30% of whose bytes
// are non-ASCII, with validation (see runServerRead).
func BenchmarkUTF8Read(b *testing.B) {
	b.Run("size="+sizeName(utf8Size), func(b *testing.B) {
		for _, l := range allLibs() {
			b.Run("lib="+l.name, func(b *testing.B) {
				benchRead(b, l, apiMsg, utf8Size, true)
			})
		}
	})
}

// ---- the same drivers as tests ----

func TestMask(t *testing.T) {
	for _, l := range maskLibs() {
		if l.mask == nil {
			continue
		}
		for _, size := range append([]int{0, 1, 3, 7, 8, 31, 32, 33, 63, 64, 65, 255}, maskSizes...) {
			for _, align := range []int{0, 1, 2, 3, 5} {
				if err := checkMask(l, size, align); err != nil {
					t.Errorf("%s: %v", l.name, err)
				}
			}
		}
	}
}

func TestServerRead(t *testing.T) {
	for _, l := range allLibs() {
		for _, api := range readAPIs {
			for _, size := range ioSizes {
				err := runServerRead(l, api, size, false, stopAfterChecks)
				if err != nil && !errors.Is(err, errNoAPI) {
					t.Errorf("%s %s %s: %v", l.name, api, sizeName(size), err)
				}
			}
		}
	}
}

func TestWrite(t *testing.T) {
	for _, l := range allLibs() {
		for _, client := range []bool{false, true} {
			for _, size := range ioSizes {
				if err := runWrite(l, client, size, stopAfterChecks); err != nil {
					t.Errorf("%s client=%v %s: %v", l.name, client, sizeName(size), err)
				}
			}
		}
	}
}

func TestEcho(t *testing.T) {
	for _, l := range allLibs() {
		for _, size := range echoSizes {
			n := 0
			loop := func() bool { n++; return n <= 20 }
			if err := runEcho(l, size, loop); err != nil {
				t.Errorf("%s %s: %v", l.name, sizeName(size), err)
			}
		}
	}
}

func TestUTF8Read(t *testing.T) {
	for _, l := range allLibs() {
		if err := runServerRead(l, apiMsg, utf8Size, true, stopAfterChecks); err != nil {
			t.Errorf("%s: %v", l.name, err)
		}
	}
}

// TestUTF8Rejected checks what the README says about each library: those
// with validatesUTF8 reject a text message that is not UTF-8, the others
// hand it over.
func TestUTF8Rejected(t *testing.T) {
	bad := append(textPayload(100, 1), 0xff, 0xfe)
	stream := appendFrame(nil, opText, true, [4]byte{1, 2, 3, 4}, bad)
	for _, l := range allLibs() {
		nc := newReplayConn(nil, stream)
		delivered := false
		err := l.serverRead(nc, apiMsg, len(bad), func(msg []byte) bool {
			delivered = true
			return false
		})
		nc.Close()
		switch {
		case l.validatesUTF8 && delivered:
			t.Errorf("%s: delivered a text message that is not UTF-8", l.name)
		case l.validatesUTF8 && err == nil:
			t.Errorf("%s: no error for a text message that is not UTF-8", l.name)
		case !l.validatesUTF8 && !delivered:
			t.Errorf("%s: rejected invalid UTF-8 (err %v): mark it validatesUTF8", l.name, err)
		}
	}
}
