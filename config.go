package wsmem

import (
	"crypto/tls"
	"time"
)

// Config holds the settings many connections share. Pass the same *Config
// to every attach call; it must not change once a connection uses it. A nil
// *Config, and every zero field, means the default given beside the field.
type Config struct {
	// ReadBufferSize is the size of the read buffer a busy connection
	// borrows from the pool (default 4096). An idle connection holds none.
	ReadBufferSize int
	// WriteBufferSize is the size of the buffer a client borrows to mask a
	// frame while copying it, and a server to join a header and payload on
	// connections without vectored writes (default 4096).
	WriteBufferSize int
	// MaxMessageSize limits a message's payload, after decompression
	// (default 16 MiB). A larger message fails with close code 1009.
	MaxMessageSize int64
	// MaxFrameSize limits one frame's payload (default: MaxMessageSize).
	MaxFrameSize int64
	// MaxFragments limits the number of frames in one message (default
	// 65536), so that a peer cannot send endless empty fragments.
	MaxFragments int
	// HandshakeTimeout bounds the opening handshake (default 10s). From
	// 100ms up, the deadline comes from a clock refreshed every millisecond
	// while handshakes read it, so it may end up to about 1ms early.
	HandshakeTimeout time.Duration
	// CloseTimeout bounds the wait for the peer's close frame in Detach
	// (default 5s).
	CloseTimeout time.Duration
	// MaxHandshakeSize bounds the HTTP head of the opening handshake
	// (default 8192); a larger request is refused with 431.
	MaxHandshakeSize int
	// Subprotocols lists the subprotocols a server accepts, in its order of
	// preference, or a client offers.
	Subprotocols []string
	// CheckOrigin decides whether a server accepts a request's Origin
	// (nil when absent) for its Host; a refusal answers 403. By default a
	// request without Origin, or whose Origin's host is the Host, is
	// accepted. The slices are valid during the call only and must not be
	// modified.
	CheckOrigin func(origin, host []byte) bool
	// CheckTarget, if set, decides whether a server accepts a request for
	// target (the path and query) on host; a refusal answers 404. It lets
	// AttachServer and push servers route before upgrading. The slices are
	// valid during the call only and must not be modified.
	CheckTarget func(target, host []byte) bool
	// Compression configures permessage-deflate (RFC 7692); it is off
	// unless Compression.Enabled.
	Compression CompressionConfig
	// TLSConfig is what Dial uses for wss:// URLs (nil: the defaults).
	TLSConfig *tls.Config
	// PingInterval makes Serve send a ping when the peer has been quiet
	// for this long (default 0: no pings).
	PingInterval time.Duration
	// IdleTimeout makes Serve close a connection whose peer sent nothing,
	// not even a pong, for this long (default 0: no limit).
	IdleTimeout time.Duration
	// MaxQueued is each connection's outbound byte budget (default 4 MiB):
	// the most bytes it keeps waiting for a slow peer. In push mode those
	// are the output the event loop has not written yet (the out passed
	// to AppendSend); in blocking mode, the bytes a write deadline left
	// unsent. A send that would take a non-empty queue past the budget is
	// refused with ErrRefused and nothing of it is kept; a message is
	// always taken into an empty queue, so the queue never holds more than
	// the budget or one message. Close frames are never refused.
	MaxQueued int
	// DropSlow closes a connection whose send was refused for its budget
	// (a slow consumer) instead of leaving it open: the send returns
	// ErrRefused, and later calls ErrClosed.
	DropSlow bool
}

const (
	defaultReadBufferSize   = 4096
	defaultWriteBufferSize  = 4096
	defaultMaxMessageSize   = 16 << 20
	defaultMaxFragments     = 65536
	defaultHandshakeTimeout = 10 * time.Second
	defaultCloseTimeout     = 5 * time.Second
	defaultMaxHandshakeSize = 8192
	defaultMaxQueued        = 4 << 20
)

// defaultConfig serves connections attached with a nil *Config.
var defaultConfig Config

func (c *Config) readBufferSize() int {
	if c.ReadBufferSize > 0 {
		return max(c.ReadBufferSize, scratchSize)
	}
	return defaultReadBufferSize
}

func (c *Config) writeBufferSize() int {
	if c.WriteBufferSize > 0 {
		return max(c.WriteBufferSize, minWriteBuffer)
	}
	return defaultWriteBufferSize
}

func (c *Config) maxMessageSize() int64 {
	if c.MaxMessageSize > 0 {
		return c.MaxMessageSize
	}
	return defaultMaxMessageSize
}

func (c *Config) maxFrameSize() int64 {
	if c.MaxFrameSize > 0 {
		return c.MaxFrameSize
	}
	return c.maxMessageSize()
}

func (c *Config) maxFragments() int {
	if c.MaxFragments > 0 {
		return c.MaxFragments
	}
	return defaultMaxFragments
}

func (c *Config) handshakeTimeout() time.Duration {
	if c.HandshakeTimeout > 0 {
		return c.HandshakeTimeout
	}
	return defaultHandshakeTimeout
}

func (c *Config) closeTimeout() time.Duration {
	if c.CloseTimeout > 0 {
		return c.CloseTimeout
	}
	return defaultCloseTimeout
}

func (c *Config) maxHandshakeSize() int {
	if c.MaxHandshakeSize > 0 {
		return c.MaxHandshakeSize
	}
	return defaultMaxHandshakeSize
}

func (c *Config) maxQueued() int {
	if c.MaxQueued > 0 {
		return c.MaxQueued
	}
	return defaultMaxQueued
}
