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
//	compression: wsflate, no context takeover only (wsflate.Reader ends
//	        every message with a final block, so a decompressor cannot
//	        carry its window over; wsflate.DefaultParameters): the server's
//	        ws.Upgrader negotiates with wsflate.Extension.Negotiate, the
//	        client offers Parameters.Option() through ws.Dialer.Extensions.
//	        wsflate takes any deflate implementation; klauspost/compress
//	        flate at level 1 here (the fastest; its README's example uses
//	        compress/flate at level 9). Send: wsutil.Writer with a
//	        wsflate.MessageState extension, wsflate.Writer (Reset, Write,
//	        Flush), wsutil.Writer.Flush. Receive: wsutil.Reader with the
//	        MessageState, wsflate.Reader over it, read through
//	        wsutil.UTF8Reader (wsutil.Reader's CheckUTF8 would check the
//	        compressed bytes), into a reused buffer. The decompressor
//	        implements wsflate.ReadResetter, so it is reused, not rebuilt
//	        per message
//	idle server: not measured (a gobwas server keeps whatever compression
//	        state the application gives it)
//	handshake: raw:  ws.Upgrader{}.Upgrade(conn)
//	        http: ws.HTTPUpgrader{}.Upgrade(r, w)

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
	"github.com/klauspost/compress/flate"
)

func init() {
	register(&lib{
		name: "gobwas",
		mask: func(b []byte, key [4]byte) { ws.Cipher(b, key, 0) },
		maskLoop: func(bl *testing.B, b []byte, key [4]byte) {
			for bl.Loop() {
				ws.Cipher(b, key, 0)
			}
		},
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
		echoServe:    gobwasEchoServe,
		echoClient:   gobwasEchoClient,
		compressPair: gobwasCompressPair,
		rawUpgrade: func() func(net.Conn) error {
			up := ws.Upgrader{}
			return func(nc net.Conn) error {
				_, err := up.Upgrade(nc)
				return err
			}
		},
		httpUpgrade: func() func(http.ResponseWriter, *http.Request) error {
			up := ws.HTTPUpgrader{}
			return func(w http.ResponseWriter, r *http.Request) error {
				_, _, _, err := up.Upgrade(r, w)
				return err
			}
		},
	})
}

// gobwasInflater is a flate decompressor that wsflate.Reader can reset
// (wsflate.ReadResetter) instead of building a new one per message.
type gobwasInflater struct{ fr io.ReadCloser }

func (d *gobwasInflater) Read(p []byte) (int, error) { return d.fr.Read(p) }
func (d *gobwasInflater) Reset(r io.Reader)          { _ = d.fr.(flate.Resetter).Reset(r, nil) }

func gobwasCompressPair(cn, sn net.Conn, takeover bool, maxSize int) (func([]byte) error, func(func([]byte) bool) error, error) {
	if takeover {
		return nil, nil, errNoAPI
	}
	params := wsflate.DefaultParameters // no context takeover both ways
	ext := &wsflate.Extension{Parameters: params}
	accepted := goDo(func() (ws.Handshake, error) {
		return ws.Upgrader{Negotiate: ext.Negotiate}.Upgrade(sn)
	})
	d := ws.Dialer{
		Extensions: []httphead.Option{params.Option()},
		NetDial:    func(context.Context, string, string) (net.Conn, error) { return cn, nil },
	}
	_, br, hs, err := d.Dial(context.Background(), "ws://127.0.0.1:9/")
	if err != nil {
		cn.Close()
		accepted()
		return nil, nil, err
	}
	if br != nil {
		ws.PutReader(br)
	}
	if _, err := accepted(); err != nil {
		return nil, nil, err
	}
	if _, ok := ext.Accepted(); !ok || len(hs.Extensions) == 0 {
		return nil, nil, errors.New("permessage-deflate not negotiated")
	}

	// The client's sending side.
	var out wsflate.MessageState
	out.SetCompressed(true)
	wr := wsutil.NewWriter(cn, ws.StateClientSide|ws.StateExtended, ws.OpText)
	wr.SetExtensions(&out)
	fw := wsflate.NewWriter(nil, func(w io.Writer) wsflate.Compressor {
		f, _ := flate.NewWriter(w, flate.BestSpeed)
		return f
	})
	send := func(p []byte) error {
		wr.ResetOp(ws.OpText)
		fw.Reset(wr)
		if _, err := fw.Write(p); err != nil {
			return err
		}
		if err := fw.Flush(); err != nil {
			return err
		}
		return wr.Flush()
	}

	// The server's receiving side.
	recv := func(each func([]byte) bool) error {
		var in wsflate.MessageState
		ctrl := wsutil.ControlFrameHandler(sn, ws.StateServerSide)
		rd := &wsutil.Reader{
			Source:         bufio.NewReaderSize(sn, 4096),
			State:          ws.StateServerSide | ws.StateExtended,
			Extensions:     []wsutil.RecvExtension{&in},
			OnIntermediate: ctrl,
		}
		fr := wsflate.NewReader(nil, func(r io.Reader) wsflate.Decompressor {
			return &gobwasInflater{fr: flate.NewReader(r)}
		})
		var u8 wsutil.UTF8Reader
		buf := make([]byte, maxSize+1)
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
			var src io.Reader = rd
			if in.IsCompressed() {
				fr.Reset(rd)
				src = fr
			}
			if hdr.OpCode == ws.OpText {
				u8.Reset(src)
				src = &u8
			}
			msg, err := readAll(src, buf)
			if err != nil {
				return err
			}
			if hdr.OpCode == ws.OpText && !u8.Valid() {
				return wsutil.ErrInvalidUTF8
			}
			if !each(msg) {
				return nil
			}
		}
	}
	return send, recv, nil
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
	serveEach(ln, func(nc net.Conn) {
		if _, err := ws.Upgrade(nc); err != nil {
			return
		}
		_ = gobwasReadLoop(bufio.NewReaderSize(nc, 4096), nc, ws.StateServerSide, make([]byte, maxSize+1),
			func(op ws.OpCode, msg []byte) bool {
				return wsutil.WriteServerMessage(nc, op, msg) == nil
			})
	})
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
