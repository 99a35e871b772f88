// Command client is a small command-line WebSocket client in the spirit of
// websocat: it connects to a ws:// or wss:// URL, sends each line of its
// standard input as a message, and prints every message that arrives.
//
//	go run ./examples/client ws://127.0.0.1:9001/
//	echo hello | go run ./examples/client -close-code 4000 ws://127.0.0.1:9001/
//
// On the end of standard input (or Ctrl-C) it sends a close frame with
// -close-code and -close-reason and waits for the server's close. Text
// messages are printed as they are, one per line; binary ones in hex.
// It exits 0 after a clean closing handshake and 1 otherwise.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/wsmem/wsmem"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command, with its streams passed in so that tests can
// drive it. It returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: client [flags] ws://host[:port]/path | wss://...")
		fs.PrintDefaults()
	}
	ping := fs.Duration("ping", 0, "send a ping whenever the server has been quiet this long (0: never)")
	pingTimeout := fs.Duration("ping-timeout", 0, "give up on a server that sends nothing, not even a pong, this long (0: never)")
	closeCode := fs.Int("close-code", int(wsmem.StatusNormal), "close code sent at the end of standard input (0: a close frame without a code)")
	closeReason := fs.String("close-reason", "", "close reason sent with -close-code")
	binary := fs.Bool("binary", false, "send lines as binary messages instead of text")
	protocols := fs.String("protocol", "", "comma-separated subprotocols to offer")
	caFile := fs.String("cacert", "", "PEM file of the CA certificates to trust for wss:// (default: the system's)")
	insecure := fs.Bool("insecure", false, "do not verify the server's certificate (wss://)")
	maxSize := fs.Int64("max-size", 16<<20, "longest message accepted, and longest line sent, in bytes")
	verbose := fs.Bool("v", false, "report the connection and the close on standard error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	target := fs.Arg(0)
	if !sendableCloseCode(*closeCode) {
		fmt.Fprintf(stderr, "client: -close-code %d cannot be sent (0, 1000-1003, 1007-1014 or 3000-4999)\n", *closeCode)
		return 2
	}

	cfg := &wsmem.Config{
		MaxMessageSize: *maxSize,
		PingInterval:   *ping,
		IdleTimeout:    *pingTimeout,
	}
	if *protocols != "" {
		cfg.Subprotocols = strings.Split(*protocols, ",")
	}
	if strings.HasPrefix(target, "wss:") {
		tc := &tls.Config{InsecureSkipVerify: *insecure}
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				fmt.Fprintf(stderr, "client: %v\n", err)
				return 2
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				fmt.Fprintf(stderr, "client: no certificate in %s\n", *caFile)
				return 2
			}
		}
		cfg.TLSConfig = tc
	}

	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := wsmem.Dial(dctx, target, nil, cfg)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "client: %v\n", err)
		return 1
	}
	defer c.Close()
	if *verbose {
		fmt.Fprintf(stderr, "client: connected to %s", target)
		if p := c.Subprotocol(); p != "" {
			fmt.Fprintf(stderr, " (subprotocol %s)", p)
		}
		fmt.Fprintln(stderr)
	}

	p := &printer{out: stdout}
	served := make(chan error, 1)
	go func() { served <- c.Serve(p) }()

	typ := wsmem.Text
	if *binary {
		typ = wsmem.Binary
	}
	sent := make(chan error, 1)
	go func() { sent <- pump(c, typ, stdin, int(*maxSize)) }()

	select {
	case <-served:
		// The server closed first, or the connection failed.
		return p.report(stderr, false, *verbose)
	case err := <-sent:
		if err != nil && !errors.Is(err, wsmem.ErrClosed) {
			fmt.Fprintf(stderr, "client: %v\n", err)
		}
	case <-ctx.Done():
	}

	// Our half of the closing handshake, then wait for the server's.
	if err := c.Done(wsmem.StatusCode(*closeCode), []byte(*closeReason)); err != nil &&
		!errors.Is(err, wsmem.ErrClosed) {
		fmt.Fprintf(stderr, "client: close: %v\n", err)
	}
	giveUp := time.AfterFunc(5*time.Second, func() { c.Close() })
	<-served
	giveUp.Stop()
	return p.report(stderr, true, *verbose)
}

// sendableCloseCode reports whether a close frame may carry code
// (RFC 6455 section 7.4); 0 stands for a close frame without a code.
func sendableCloseCode(code int) bool {
	switch {
	case code == 0, code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// pump sends each line of in as one message, without its line ending.
// It returns nil at the end of in.
func pump(c *wsmem.Conn, typ wsmem.Flags, in io.Reader, maxLine int) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine+2)
	for sc.Scan() {
		line := sc.Bytes()
		line = line[:len(line)-len(trailingCR(line))]
		if err := c.Send(typ, line); err != nil {
			return err
		}
	}
	return sc.Err()
}

func trailingCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[len(b)-1:]
	}
	return nil
}

// printer is the connection's Handler: it writes each message on a line
// and keeps how the connection ended.
type printer struct {
	wsmem.NopHandler
	out  io.Writer
	line []byte // reused: data is valid only during OnMessage

	mu     sync.Mutex
	code   wsmem.StatusCode
	reason string
	err    error
}

func (p *printer) OnMessage(_ *wsmem.Conn, typ wsmem.Flags, data []byte) {
	if typ == wsmem.Text {
		p.line = append(p.line[:0], data...)
	} else {
		p.line = hex.AppendEncode(p.line[:0], data)
	}
	p.line = append(p.line, '\n')
	_, _ = p.out.Write(p.line)
}

func (p *printer) OnClose(_ *wsmem.Conn, code wsmem.StatusCode, reason []byte, err error) {
	p.mu.Lock()
	p.code, p.reason, p.err = code, string(reason), err
	p.mu.Unlock()
}

// report tells how the connection ended and returns the exit status: 0 for
// a completed closing handshake that we started or the server started
// with 1000, 1001 or no code; 1 otherwise.
func (p *printer) report(stderr io.Writer, weClosed, verbose bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		fmt.Fprintf(stderr, "client: connection ended (%d): %v\n", p.code, p.err)
		return 1
	}
	clean := weClosed
	switch p.code {
	case wsmem.StatusNormal, wsmem.StatusGoingAway, wsmem.StatusNoStatus:
		clean = true
	}
	if verbose || !clean {
		if weClosed {
			fmt.Fprintf(stderr, "client: closed; the server answered %d %q\n", p.code, p.reason)
		} else {
			fmt.Fprintf(stderr, "client: the server closed with %d %q\n", p.code, p.reason)
		}
	}
	if clean {
		return 0
	}
	return 1
}
