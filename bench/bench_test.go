package bench

// The scenarios. Every benchmark is named Scenario/key=value/.../lib=NAME so
// that `benchstat -col /lib` puts the libraries side by side; every one
// checks, before its timer starts, that the bytes received equal the bytes
// sent. The same drivers run once, untimed, as tests.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

var (
	maskSizes  = []int{15, 125, 1 << 10, 4 << 10, 64 << 10, 1 << 20}
	ioSizes    = []int{16, 128, 1 << 10, 16 << 10, 1 << 20}
	echoSizes  = []int{1 << 10, 64 << 10}
	utf8Size   = 16 << 10
	readAPIs   = []string{apiMsg, apiStream}
	maskAligns = []int{0, 3}

	compressSizes    = []int{1 << 10, 16 << 10}
	compressMessages = 8        // distinct JSON documents per size
	retainedSize     = 16 << 10 // the message each idle connection exchanged
	retainedConns    = 1000     // connections per idle-memory measurement
	handshakeAPIs    = []string{"raw", "http"}
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

// echoLibs are the libraries and the plain TCP floor (tcp_test.go).
func echoLibs() []*lib { return append(allLibs(), tcpBaseline) }

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
	if l.maskLoop != nil {
		l.maskLoop(b, src, key)
		return
	}
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
// the message once. lib=tcp is the floor: the same bytes with no WebSocket
// code at all (tcp_test.go).
func BenchmarkEcho(b *testing.B) {
	for _, size := range echoSizes {
		b.Run("size="+sizeName(size), func(b *testing.B) {
			for _, l := range echoLibs() {
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
	for _, l := range echoLibs() {
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

// ---- compression, idle memory per connection, handshakes ----

// runCompress connects l's client and server over an in-memory pipe with
// permessage-deflate in the given mode and sends text messages of size
// bytes from the client to the server: JSON document 0, document 0 again,
// then 1, 2, ... compressMessages-1, 0, 1, ... The first compressMessages+1
// are checked on the wire (one message, RSV1 on its first frame, fewer
// payload bytes than the text; the first inflates with an independent
// decoder to the text; with takeover the repeat of document 0 takes less
// than half the bytes its first sending took, without it at least 90%) and
// on arrival (the exact text). Then each call of loop is one message sent
// and received. Text is validated: by the library, or with utf8.Valid when
// the library does not.
func runCompress(l *lib, size int, takeover bool, loop func() bool) error {
	if l.compressPair == nil {
		return errNoAPI
	}
	msgs := make([][]byte, compressMessages)
	for i := range msgs {
		msgs[i] = jsonPayload(size, uint64(i))
	}
	msgAt := func(i int) []byte {
		if i == 0 {
			return msgs[0]
		}
		return msgs[(i-1)%len(msgs)]
	}
	cn, sn := newPipe(false)
	defer cn.Close()
	send, recv, err := l.compressPair(cn, sn, takeover, size)
	if err != nil {
		return err
	}
	sent, first := 0, 0
	sendNext := func() error {
		p := msgAt(sent)
		checking := sent <= len(msgs)
		if checking && len(sn.unread()) > 0 {
			return fmt.Errorf("%d bytes waiting before message %d", len(sn.unread()), sent)
		}
		if err := send(p); err != nil {
			return err
		}
		if checking {
			n, err := checkCompressedMessage(sn.unread(), p, true, sent == 0)
			if err != nil {
				return fmt.Errorf("message %d on the wire: %v", sent, err)
			}
			switch {
			case sent == 0:
				first = n
			case sent == 1 && takeover && 2*n >= first:
				return fmt.Errorf("with context takeover a repeated message took %d bytes, the first %d: no takeover", n, first)
			case sent == 1 && !takeover && 10*n < 9*first:
				return fmt.Errorf("without context takeover a repeated message took %d bytes, the first %d: takeover", n, first)
			}
		}
		sent++
		return nil
	}
	if err := sendNext(); err != nil {
		return err
	}
	appValidate := !l.validatesUTF8
	var failure error
	received, done := 0, false
	each := func(msg []byte) bool {
		if done {
			return false
		}
		if appValidate && !utf8.Valid(msg) {
			failure, done = errors.New("received text is not valid UTF-8"), true
			return false
		}
		if received <= len(msgs) {
			if want := msgAt(received); !bytes.Equal(msg, want) {
				failure, done = fmt.Errorf("message %d: received %d bytes that differ from the %d sent", received, len(msg), len(want)), true
				return false
			}
		} else if !loop() {
			done = true
			return false
		}
		received++
		if err := sendNext(); err != nil {
			failure, done = err, true
			return false
		}
		return true
	}
	err = recv(each)
	switch {
	case failure != nil:
		return failure
	case !done && err == nil:
		return errors.New("the receive loop ended by itself")
	case !done:
		return err
	}
	return nil
}

// BenchmarkCompress: one op is one JSON-like text message compressed and
// sent by a client, received and decompressed by its server (both sides'
// work), over an in-memory pipe in one goroutine (see runCompress). It also
// reports the process's CPU time per op (cpuLoop).
func BenchmarkCompress(b *testing.B) {
	for _, size := range compressSizes {
		b.Run("size="+sizeName(size), func(b *testing.B) {
			for _, mode := range compressModes {
				b.Run("mode="+mode.name, func(b *testing.B) {
					for _, l := range allLibs() {
						b.Run("lib="+l.name, func(b *testing.B) {
							b.SetBytes(int64(size))
							b.ReportAllocs()
							if err := runCompress(l, size, mode.takeover, cpuLoop(b)); err != nil {
								if errors.Is(err, errNoAPI) {
									b.Skip(err)
								}
								b.Fatal(err)
							}
						})
					}
				})
			}
		})
	}
}

func TestCompress(t *testing.T) {
	for _, l := range allLibs() {
		for _, size := range compressSizes {
			for _, mode := range compressModes {
				n := 0
				loop := func() bool { n++; return n <= 20 }
				err := runCompress(l, size, mode.takeover, loop)
				if err != nil && !errors.Is(err, errNoAPI) {
					t.Errorf("%s %s %s: %v", l.name, sizeName(size), mode.name, err)
				}
			}
		}
	}
}

// rawCompressClient is a library-neutral client for the idle-memory
// scenario: it sends a pre-built upgrade request offering permessage-deflate
// in one mode and a pre-built compressed message, checks the server's
// answer and echo, and keeps nothing afterwards but its end of the pipe.
type rawCompressClient struct {
	takeover bool
	msg      []byte
	request  []byte
	frame    []byte // the client's message: masked, RSV1, compressed
	reply    []byte // what the null server answers the request with
	echo     []byte // the null server's echo: RSV1, compressed
}

func newRawCompressClient(msg []byte, takeover bool) *rawCompressClient {
	offer, answer := "permessage-deflate; client_max_window_bits", "permessage-deflate"
	if !takeover {
		offer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
		answer = offer
	}
	z := deflateIndependent(msg)
	frame := appendFrame(nil, opText, true, [4]byte{0x5a, 0x17, 0xc3, 0x9e}, z)
	frame[0] |= 0x40 // RSV1
	echo := appendFrame(nil, opText, false, [4]byte{}, z)
	echo[0] |= 0x40
	return &rawCompressClient{
		takeover: takeover,
		msg:      msg,
		request: []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Extensions: " + offer + "\r\n\r\n"),
		reply: []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + acceptKey("dGhlIHNhbXBsZSBub25jZQ==") + "\r\n" +
			"Sec-WebSocket-Extensions: " + answer + "\r\n\r\n"),
		frame: frame,
		echo:  echo,
	}
}

// exchange runs the client on nc: handshake (checking that the answer
// accepted the offer in its mode), one message out, its echo back (checked:
// compressed, and inflating to the message).
func (rc *rawCompressClient) exchange(nc net.Conn) error {
	if _, err := nc.Write(rc.request); err != nil {
		return err
	}
	var buf []byte
	chunk := make([]byte, 4096)
	end := -1
	for end < 0 {
		n, err := nc.Read(chunk)
		if err != nil {
			return fmt.Errorf("reading the handshake answer: %v", err)
		}
		buf = append(buf, chunk[:n]...)
		end = bytes.Index(buf, []byte("\r\n\r\n"))
	}
	if end+4 != len(buf) {
		return errors.New("bytes after the handshake answer")
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(buf)), nil)
	if err != nil {
		return err
	}
	ext := strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", ")
	switch {
	case resp.StatusCode != http.StatusSwitchingProtocols:
		return fmt.Errorf("status %d", resp.StatusCode)
	case !strings.Contains(ext, "permessage-deflate"):
		return fmt.Errorf("permessage-deflate not accepted (%q)", ext)
	case rc.takeover && strings.Contains(ext, "no_context_takeover"):
		return fmt.Errorf("context takeover refused (%q)", ext)
	case !rc.takeover && (!strings.Contains(ext, "server_no_context_takeover") || !strings.Contains(ext, "client_no_context_takeover")):
		return fmt.Errorf("no_context_takeover not answered (%q)", ext)
	}
	if _, err := nc.Write(rc.frame); err != nil {
		return err
	}
	buf = buf[:0]
	for {
		n, err := nc.Read(chunk)
		if err != nil {
			return fmt.Errorf("reading the echo: %v", err)
		}
		buf = append(buf, chunk[:n]...)
		if fs, err := decodeFrames(buf); err == nil && len(fs) > 0 && fs[len(fs)-1].fin {
			break
		}
	}
	_, err = checkCompressedMessage(buf, rc.msg, false, true)
	return err
}

// nullServe is the baseline server of the idle-memory scenario: it answers
// the handshake and echoes the message with pre-built bytes, then waits on
// its connection holding nothing.
func (rc *rawCompressClient) nullServe(nc net.Conn) {
	buf := make([]byte, 4096)
	var got []byte
	for !bytes.Contains(got, []byte("\r\n\r\n")) {
		n, err := nc.Read(buf)
		if err != nil {
			return
		}
		got = append(got, buf[:n]...)
	}
	if _, err := nc.Write(rc.reply); err != nil {
		return
	}
	for left := len(rc.frame); left > 0; {
		n, err := nc.Read(buf[:min(left, len(buf))])
		if err != nil {
			return
		}
		left -= n
	}
	if _, err := nc.Write(rc.echo); err != nil {
		return
	}
	_, _ = nc.Read(nullByte)
}

// nullByte is where the null servers wait; nothing is ever read into it.
var nullByte = make([]byte, 1)

// liveHeap returns the bytes of live heap objects, after two collections
// (the second empties what sync.Pools kept in their victim caches).
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// retainedHeap opens n in-memory connections, each served by serve in its
// own goroutine and exchanging one message with rc, waits until every
// server is blocked reading with nothing to read, and returns the live heap
// it grew by. Then it closes them all and waits for the servers to return.
func retainedHeap(serve func(nc net.Conn), rc *rawCompressClient, n int) (int64, error) {
	ends := make([]*pipeConn, 0, 2*n)
	var wg sync.WaitGroup
	defer func() {
		for _, c := range ends {
			c.Close()
		}
		wg.Wait()
	}()
	before := liveHeap()
	for range n {
		cn, sn := newPipe(true)
		ends = append(ends, cn, sn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(sn)
		}()
		if err := rc.exchange(cn); err != nil {
			return 0, err
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := 1; i < len(ends); i += 2 {
		for !ends[i].idle() {
			if time.Now().After(deadline) {
				return 0, errors.New("a server did not go back to waiting for the next message")
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	return liveHeap() - before, nil
}

// runRetained measures the live heap l's server keeps per idle connection
// with permessage-deflate in the given mode: n connections, each having
// exchanged one 16 KiB JSON-like message each way, minus the same n
// connections served by the null server (pipes, goroutines, the client's
// side), measured the same way just before. What the server shares
// between connections (configuration, compressor pools) is built before
// either measurement and not counted.
func runRetained(l *lib, takeover bool, n int) (float64, error) {
	if l.compressServer == nil {
		return 0, errNoAPI
	}
	serve, err := l.compressServer(takeover)
	if err != nil {
		return 0, err
	}
	rc := newRawCompressClient(jsonPayload(retainedSize, 1), takeover)
	// A first, unmeasured round with the library's server. It builds what
	// the server shares but makes lazily (gws's pooled compressors allocate
	// their tables on first use), and it starts n goroutines: the runtime
	// keeps the descriptors of goroutines that ended for new ones, so the
	// round that first starts n goroutines would count about 0.5 KB each
	// that later rounds reuse.
	if _, err := retainedHeap(serve, rc, n); err != nil {
		return 0, err
	}
	base, err := retainedHeap(rc.nullServe, rc, n)
	if err != nil {
		return 0, fmt.Errorf("null server: %v", err)
	}
	got, err := retainedHeap(serve, rc, n)
	if err != nil {
		return 0, err
	}
	return float64(got-base) / float64(n), nil
}

// BenchmarkRetained reports the live heap a server keeps per idle
// connection with compression on (B/conn; see runRetained). The
// measurement runs once, before the timed loop, which is empty: its time
// is not reported.
func BenchmarkRetained(b *testing.B) {
	for _, mode := range compressModes {
		b.Run("mode="+mode.name, func(b *testing.B) {
			for _, l := range allLibs() {
				b.Run("lib="+l.name, func(b *testing.B) {
					perConn, err := runRetained(l, mode.takeover, retainedConns)
					if err != nil {
						if errors.Is(err, errNoAPI) {
							b.Skip(err)
						}
						b.Fatal(err)
					}
					for b.Loop() {
					}
					b.ReportMetric(perConn, "B/conn")
					b.ReportMetric(0, "ns/op") // a zero ns/op is left out of the output
				})
			}
		})
	}
}

func TestRetained(t *testing.T) {
	for _, l := range allLibs() {
		for _, mode := range compressModes {
			_, err := runRetained(l, mode.takeover, 20)
			if err != nil && !errors.Is(err, errNoAPI) {
				t.Errorf("%s %s: %v", l.name, mode.name, err)
			}
		}
	}
}

// runHandshake answers browserRequest with l's server-side upgrade, raw
// (the request read from an in-memory connection) or from net/http's
// handler arguments (the request parsed once, served again and again by an
// httpConn), the 101 going to a discarding writer. The first two answers
// are checked; then one per call of loop.
func runHandshake(l *lib, api string, loop func() bool) error {
	nc := &handshakeConn{req: []byte(browserRequest)}
	var upgrade func() error
	switch api {
	case "raw":
		if l.rawUpgrade == nil {
			return errNoAPI
		}
		up := l.rawUpgrade()
		upgrade = func() error {
			nc.reset()
			return up(nc)
		}
	case "http":
		if l.httpUpgrade == nil {
			return errNoAPI
		}
		up := l.httpUpgrade()
		hc, err := newHTTPConn(nc)
		if err != nil {
			return err
		}
		upgrade = func() error {
			hc.reset()
			return up(hc, hc.req)
		}
	}
	for range 2 {
		nc.startCapture()
		if err := upgrade(); err != nil {
			return err
		}
		if err := checkUpgradeResponse(nc.takeCapture()); err != nil {
			return err
		}
	}
	for loop() {
		if err := upgrade(); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkHandshake: one op is one server-side opening handshake of a
// browser's request (see runHandshake). It also reports the process's CPU
// time per op (cpuLoop).
func BenchmarkHandshake(b *testing.B) {
	for _, api := range handshakeAPIs {
		b.Run("api="+api, func(b *testing.B) {
			for _, l := range allLibs() {
				b.Run("lib="+l.name, func(b *testing.B) {
					b.ReportAllocs()
					if err := runHandshake(l, api, cpuLoop(b)); err != nil {
						if errors.Is(err, errNoAPI) {
							b.Skip(err)
						}
						b.Fatal(err)
					}
				})
			}
		})
	}
}

func TestHandshake(t *testing.T) {
	for _, l := range allLibs() {
		for _, api := range handshakeAPIs {
			n := 0
			loop := func() bool { n++; return n <= 5 }
			if err := runHandshake(l, api, loop); err != nil && !errors.Is(err, errNoAPI) {
				t.Errorf("%s %s: %v", l.name, api, err)
			}
		}
	}
}
