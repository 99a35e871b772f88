package bench

// gobwas/ws with wsutil: reads go through a 4 KiB bufio.Reader over the
// connection (the library reads headers with small reads; unbuffered, every
// frame costs several read calls on a real socket), writes straight to the
// connection. No compression.
//
//	mask:   ws.Cipher(b, key, 0)
//	read:   msg:    wsutil.ReadClientData(rw) (allocates the message;
//	                validates UTF-8: wsutil.CheckUTF8() is on by default)
//	        stream: wsutil.Reader{CheckUTF8: true}, NextFrame, then Read
//	                into a reused buffer to io.EOF
//	write:  wsutil.WriteServerMessage / wsutil.WriteClientMessage (the
//	        client copies into a pooled buffer and masks it there)
//	upgrade: ws.Upgrade(conn) on the raw connection; ws.Dialer on the client
//	UTF-8:  validated on receive

import (
	"bufio"
	"context"
	"net"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func init() {
	register(&lib{
		name:          "gobwas",
		mask:          func(b []byte, key [4]byte) { ws.Cipher(b, key, 0) },
		validatesUTF8: true,
		serverRead:    gobwasServerRead,
		serverWriter: func(nc net.Conn) (func(bool, []byte) error, error) {
			if _, err := ws.Upgrade(withPrefix(nc, upgradeRequestText)); err != nil {
				return nil, err
			}
			return func(text bool, p []byte) error {
				return wsutil.WriteServerMessage(nc, gobwasOp(text), p)
			}, nil
		},
		clientWriter: func(nc net.Conn) (func(bool, []byte) error, error) {
			d := ws.Dialer{NetDial: func(context.Context, string, string) (net.Conn, error) { return nc, nil }}
			c, _, _, err := d.Dial(context.Background(), "ws://127.0.0.1:9/")
			if err != nil {
				return nil, err
			}
			return func(text bool, p []byte) error {
				return wsutil.WriteClientMessage(c, gobwasOp(text), p)
			}, nil
		},
		echoServe:  gobwasEchoServe,
		echoClient: gobwasEchoClient,
	})
}

func gobwasOp(text bool) ws.OpCode {
	if text {
		return ws.OpText
	}
	return ws.OpBinary
}

// gobwasReadLoop receives messages with a wsutil.Reader into buf, answering
// control frames on w, until each returns false.
func gobwasReadLoop(src *bufio.Reader, w net.Conn, state ws.State, buf []byte, each func(ws.OpCode, []byte) bool) error {
	ctrl := wsutil.ControlFrameHandler(w, state)
	rd := &wsutil.Reader{Source: src, State: state, CheckUTF8: true, OnIntermediate: ctrl}
	for {
		hdr, err := rd.NextFrame()
		if err != nil {
			return err
		}
		if hdr.OpCode.IsControl() {
			if err := ctrl(hdr, rd); err != nil {
				return err
			}
			continue
		}
		msg, err := readAll(rd, buf)
		if err != nil {
			return err
		}
		if !each(hdr.OpCode, msg) {
			return nil
		}
	}
}

func gobwasServerRead(nc net.Conn, api string, maxSize int, each func([]byte) bool) error {
	if _, err := ws.Upgrade(withPrefix(nc, upgradeRequestText)); err != nil {
		return err
	}
	br := bufio.NewReaderSize(nc, 4096)
	switch api {
	case apiMsg:
		src := rw{br, nc}
		for {
			p, _, err := wsutil.ReadClientData(src)
			if err != nil {
				return err
			}
			if !each(p) {
				return nil
			}
		}
	case apiStream:
		return gobwasReadLoop(br, nc, ws.StateServerSide, make([]byte, maxSize+1),
			func(_ ws.OpCode, msg []byte) bool { return each(msg) })
	}
	return errNoAPI
}

func gobwasEchoServe(ln net.Listener, maxSize int) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			if _, err := ws.Upgrade(nc); err != nil {
				return
			}
			_ = gobwasReadLoop(bufio.NewReaderSize(nc, 4096), nc, ws.StateServerSide, make([]byte, maxSize+1),
				func(op ws.OpCode, msg []byte) bool {
					return wsutil.WriteServerMessage(nc, op, msg) == nil
				})
		}()
	}
}

func gobwasEchoClient(addr string, p []byte, each func([]byte) bool) error {
	nc, br, _, err := ws.Dial(context.Background(), "ws://"+addr+"/")
	if err != nil {
		return err
	}
	defer nc.Close()
	if br == nil {
		br = bufio.NewReaderSize(nc, 4096)
	}
	if err := wsutil.WriteClientMessage(nc, ws.OpBinary, p); err != nil {
		return err
	}
	return gobwasReadLoop(br, nc, ws.StateClientSide, make([]byte, len(p)+1),
		func(_ ws.OpCode, msg []byte) bool {
			if !each(msg) {
				return false
			}
			return wsutil.WriteClientMessage(nc, ws.OpBinary, p) == nil
		})
}
