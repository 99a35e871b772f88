package wsmem

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"time"
)

var errScheme = errors.New("wsmem: URL scheme must be ws or wss")

// Dial connects to a ws:// or wss:// URL and performs the client handshake,
// with the memory of st (nil: the library allocates). The context bounds
// the connection and the handshake; cancelling it aborts them. wss uses
// crypto/tls with Config.TLSConfig (nil: the system's roots). It allocates
// for the URL, the socket and TLS; the WebSocket side allocates nothing
// with a Storage.
func Dial(ctx context.Context, rawURL string, st *Storage, cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &defaultConfig
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	port := "80"
	switch u.Scheme {
	case "ws":
	case "wss":
		port = "443"
	default:
		return nil, errScheme
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// Cancelling ctx interrupts the handshake by expiring the deadlines.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if u.Scheme == "wss" {
		tc := cfg.TLSConfig.Clone()
		if tc == nil {
			tc = &tls.Config{}
		}
		if tc.ServerName == "" {
			tc.ServerName = u.Hostname()
		}
		tc.NextProtos = []string{"http/1.1"}
		tlsConn := tls.Client(nc, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		nc = tlsConn
	}
	c, err := AttachClient(nc, 0, u.RequestURI(), u.Host, st, cfg)
	if err != nil {
		nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if !stop() {
		// ctx ended just as the handshake finished: honour it.
		c.Close()
		return nil, ctx.Err()
	}
	return c, nil
}
