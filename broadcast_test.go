package wsmem

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// A prepared message reaches plain, compressing and client connections
// alike, and the compressed form is what goes to a no-takeover peer.
func TestPreparedMessage(t *testing.T) {
	cc := CompressionConfig{Enabled: true, ServerNoContextTakeover: true}
	msg := jsonLike(8<<10, 5)
	pm := NewPreparedMessage(Text, msg, &cc)
	require.NotNil(t, pm.compressed)
	require.Less(t, len(pm.compressed), len(msg)/2)

	plainSrv, plainCli, _ := compressedPair(t, nil, nil)
	zSrv, zCli, _ := compressedPair(t, &Config{Compression: cc}, &Config{Compression: CompressionConfig{Enabled: true}})
	takeSrv, takeCli, _ := compressedPair(t, &Config{Compression: CompressionConfig{Enabled: true}}, &Config{Compression: CompressionConfig{Enabled: true}})
	for _, pair := range [][2]*Conn{{plainSrv, plainCli}, {zSrv, zCli}, {takeSrv, takeCli}, {plainCli, plainSrv}} {
		for range 3 {
			go func() { _ = pair[0].SendPrepared(pm) }()
			buf := make([]byte, 10<<10)
			n, typ, err := pair[1].Recv(buf)
			require.NoError(t, err)
			require.Equal(t, Text, typ)
			require.True(t, bytes.Equal(msg, buf[:n]))
		}
	}
	m := &memConn{}
	s := serverOn(t, m, 0, nil)
	s.enableDeflate(deflateParams{serverNoContextTakeover: true})
	require.NoError(t, s.SendPrepared(pm))
	require.Equal(t, pm.compressed, m.out.Bytes())
}

func TestAllocsSendPrepared(t *testing.T) {
	skipIfRace(t)
	pm := NewPreparedMessage(Binary, make([]byte, 1024), nil)
	s := serverOn(t, &loopConn{stream: []byte{0}}, 0, nil)
	requireNoAllocs(t, "SendPrepared", func() { _ = s.SendPrepared(pm) })
}
