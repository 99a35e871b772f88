package loadtest

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"github.com/wsmem/wsmem"
)

// TestStorageReleasesDeflateWindowsAfterClose: a regression test for a bug
// TestLoad's heap check found. A connection that negotiated
// permessage-deflate with context takeover keeps a window of history per
// direction (up to 32 KiB each). The Storage used to keep pointing to both
// after the closing handshake and Close, until the slot was reused, against
// doc.go's "A Storage holds no pointer to memory the library allocated for
// that connection". The windows now go back to a pool when each direction
// ends (a close frame sent, the receive side over).
//
// Here 20 pairs (both ends in caller Storages) exchange one 32 KiB message
// each way and close properly; then the heap with the Storages alive is
// compared with the heap once they are dropped: only the Storages
// themselves may differ.
func TestStorageReleasesDeflateWindowsAfterClose(t *testing.T) {
	const pairs = 20
	cfg := &wsmem.Config{Compression: wsmem.CompressionConfig{Enabled: true}} // takeover both ways
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	msg := bytes.Repeat([]byte("the socket sends a frame, the peer echoes it. "), 32<<10/46)

	srv := make([]wsmem.Storage, pairs)
	cli := make([]wsmem.Storage, pairs)
	for i := range pairs {
		served := make(chan error, 1)
		go func() {
			nc, err := ln.Accept()
			if err != nil {
				served <- err
				return
			}
			s, err := wsmem.AttachServer(nc, 0, &srv[i], cfg)
			if err != nil {
				served <- err
				return
			}
			defer s.Close()
			typ, data, err := s.Next()
			if err == nil {
				err = s.Send(typ, data)
			}
			if err == nil {
				_, _, err = s.Next() // the client's close
			}
			if isNormalClose(err) {
				err = nil
			}
			served <- err
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := wsmem.Dial(ctx, "ws://"+ln.Addr().String()+"/", &cli[i], cfg)
		cancel()
		require.NoError(t, err)
		require.True(t, c.Compression())
		require.NoError(t, c.Send(wsmem.Text, msg))
		_, echo, err := c.Next()
		require.NoError(t, err)
		require.Equal(t, msg, echo)
		require.NoError(t, c.Done(wsmem.StatusNormal, nil))
		_, _, err = c.Next()
		require.True(t, isNormalClose(err), "client's close: %v", err)
		require.NoError(t, c.Close())
		require.NoError(t, <-served)
	}

	kept := takeSnapshot().heap
	runtime.KeepAlive(srv)
	runtime.KeepAlive(cli)
	srv, cli = nil, nil
	dropped := takeSnapshot().heap
	storages := uint64(2*pairs) * uint64(unsafe.Sizeof(wsmem.Storage{}))
	retained := (int64(kept) - int64(dropped) - int64(storages)) / pairs
	t.Logf("closed pairs keep %d bytes each beyond their two Storages (%d bytes)", retained, 2*unsafe.Sizeof(wsmem.Storage{}))
	require.LessOrEqual(t, retained, int64(1<<10), "a closed connection's Storage keeps library memory")
}
