package wsmem

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Many goroutines send at once while the peer pings: every message arrives
// whole, each sender's messages in order, and the automatic pongs never
// corrupt a send.
func TestConcurrentSendersAndAutomaticPongs(t *testing.T) {
	const senders, perSender = 8, 200
	for _, clientSends := range []bool{true, false} {
		srv, cli := wsPair(t, nil)
		snd, rcv := cli, srv
		if !clientSends {
			snd, rcv = srv, cli
		}
		var wg sync.WaitGroup
		for s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(s), 1))
				for i := range perSender {
					// sender, sequence, crc, then random payload
					p := make([]byte, 12+rng.IntN(3000))
					binary.BigEndian.PutUint32(p[0:], uint32(s))
					binary.BigEndian.PutUint32(p[4:], uint32(i))
					for j := 12; j < len(p); j++ {
						p[j] = byte(rng.Uint32())
					}
					binary.BigEndian.PutUint32(p[8:], crc32.ChecksumIEEE(p[12:]))
					if err := snd.Send(Binary, p); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		// The sender's peer pings all along; the sender's own receive loop
		// answers with pongs while its goroutines send.
		stop := make(chan struct{})
		pingDone := make(chan struct{})
		go func() {
			defer close(pingDone)
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
					if rcv.Ping([]byte("are you there")) != nil {
						return
					}
				}
			}
		}()
		recvDone := make(chan struct{})
		go func() {
			defer close(recvDone)
			buf := make([]byte, 100)
			for {
				if _, _, err := snd.Recv(buf); err != nil {
					return
				}
			}
		}()
		next := make([]uint32, senders)
		buf := make([]byte, 4000)
		for range senders * perSender {
			n, _, err := rcv.Recv(buf)
			require.NoError(t, err)
			p := buf[:n]
			s := binary.BigEndian.Uint32(p[0:])
			require.Equal(t, next[s], binary.BigEndian.Uint32(p[4:]), "out of order")
			require.Equal(t, binary.BigEndian.Uint32(p[8:]), crc32.ChecksumIEEE(p[12:]), "corrupt")
			next[s]++
		}
		wg.Wait()
		close(stop)
		<-pingDone
		require.NoError(t, rcv.Close())
		<-recvDone
	}
}

// Close from another goroutine releases blocked receivers and senders.
func TestCloseReleasesBlockedCalls(t *testing.T) {
	srv, _ := wsPair(t, nil)
	errc := make(chan error, 1)
	go func() {
		_, _, err := srv.Recv(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, srv.Close())
	require.NoError(t, srv.Close()) // idempotent
	require.ErrorIs(t, <-errc, ErrClosed)
	require.ErrorIs(t, srv.Send(Text, []byte("x")), ErrClosed)
}

// Close releases a sender blocked on a peer that does not read.
func TestCloseReleasesBlockedSend(t *testing.T) {
	srv, _ := wsPair(t, nil)
	errc := make(chan error, 1)
	go func() { errc <- srv.Send(Binary, make([]byte, 64<<20)) }()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, srv.Close())
	select {
	case err := <-errc:
		require.ErrorIs(t, err, ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Send still blocked after Close")
	}
}

// A Send issued while a streamed message is open waits for it: its frame
// never lands between the stream's frames.
func TestSendWaitsForOpenStream(t *testing.T) {
	srv, cli := wsPair(t, nil)
	w, err := cli.NextWriter(Text)
	require.NoError(t, err)
	_, err = w.Write([]byte("part one, "))
	require.NoError(t, err)
	sent := make(chan error, 1)
	go func() { sent <- cli.Send(Binary, []byte("other")) }()
	time.Sleep(30 * time.Millisecond)
	select {
	case err := <-sent:
		t.Fatalf("Send went out in the middle of a stream (err %v)", err)
	default:
	}
	_, err = w.Write([]byte("part two"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, <-sent)
	buf := make([]byte, 100)
	n, typ, err := srv.Recv(buf)
	require.NoError(t, err)
	require.Equal(t, Text, typ)
	require.Equal(t, "part one, part two", string(buf[:n]))
	n, typ, err = srv.Recv(buf)
	require.NoError(t, err)
	require.Equal(t, Binary, typ)
	require.Equal(t, "other", string(buf[:n]))
}
