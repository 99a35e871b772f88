package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsmem/wsmem"
	"github.com/wsmem/wsmem/interop/internal/wiretap"
)

// ---- what the drivers are told (interop/node/*.mjs, interop/python/peer.py) ----

// drvDeflate is the peer's permessage-deflate configuration: as a client,
// what it offers; as a server, what it accepts and imposes. Zero window
// bits leave the parameter out.
type drvDeflate struct {
	ServerNoContextTakeover bool `json:"serverNoContextTakeover,omitempty"`
	ClientNoContextTakeover bool `json:"clientNoContextTakeover,omitempty"`
	ServerMaxWindowBits     int  `json:"serverMaxWindowBits,omitempty"`
	ClientMaxWindowBits     int  `json:"clientMaxWindowBits,omitempty"`
}

// drvStep is one step a driver runs. Ops: echo, ping-peer, ping-wsmem,
// close-peer, close-wsmem (the last step of every scenario is a close).
type drvStep struct {
	Op        string `json:"op"`
	Type      string `json:"type,omitempty"`      // text, binary
	Gen       string `json:"gen,omitempty"`       // ascii, utf8, random, zip
	Len       int    `json:"len,omitempty"`       // bytes
	Seed      int    `json:"seed,omitempty"`      // varies the content
	Repeat    int    `json:"repeat,omitempty"`    // sends the same payload this many times (0: once)
	Frag      int    `json:"frag,omitempty"`      // the peer sends it in frames of this many bytes
	WsmemFrag int    `json:"wsmemFrag,omitempty"` // wsmem echoes it with NextWriter frames of this size
	Data      string `json:"data,omitempty"`      // ping payload
	Code      int    `json:"code,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

type drvScenario struct {
	ID            string      `json:"id"`
	Deflate       *drvDeflate `json:"deflate"` // nil: compression off
	ExpectDeflate bool        `json:"expectDeflate"`
	Steps         []drvStep   `json:"steps"`
}

// extScenario adds what only the Go side needs.
type extScenario struct {
	drvScenario
	wsmemCfg wsmem.CompressionConfig
	recvMode string
}

// extMode is a permessage-deflate setup, for each direction.
type extMode struct {
	name        string
	peerClient  drvDeflate              // the peer as client (wsmem server)
	wsmemServer wsmem.CompressionConfig // wsmem as server
	peerServer  drvDeflate              // the peer as server (wsmem client)
	wsmemClient wsmem.CompressionConfig // wsmem as client
}

var on = wsmem.CompressionConfig{Enabled: true}

var extModes = []extMode{
	// Context takeover both ways, 15-bit windows.
	{name: "ctx", wsmemServer: on, wsmemClient: on},
	// No context takeover: the peer asks for it (wsmem server), wsmem asks
	// for it (wsmem client).
	{
		name:        "nct",
		peerClient:  drvDeflate{ServerNoContextTakeover: true, ClientNoContextTakeover: true},
		wsmemServer: on,
		wsmemClient: wsmem.CompressionConfig{Enabled: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true},
	},
	// 9-bit windows: the peer client asks for them; the peer server
	// imposes them on a wsmem client that offered only a bare
	// client_max_window_bits.
	{
		name:        "w9",
		peerClient:  drvDeflate{ServerMaxWindowBits: 9, ClientMaxWindowBits: 9},
		wsmemServer: on,
		peerServer:  drvDeflate{ServerMaxWindowBits: 9, ClientMaxWindowBits: 9},
		wsmemClient: on,
	},
	// 12-bit windows without context takeover, asked for by the client.
	{
		name:        "w12-nct",
		peerClient:  drvDeflate{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 12, ClientMaxWindowBits: 12},
		wsmemServer: on,
		wsmemClient: wsmem.CompressionConfig{Enabled: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 12, ClientMaxWindowBits: 12},
	},
	// wsmem sets the limits: as server it imposes 10 bits on its own
	// window and 11 on the client's; as client it announces 10 bits for its
	// own and asks 11 of the server.
	{
		name:        "wsmem-limits",
		wsmemServer: wsmem.CompressionConfig{Enabled: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 11},
		wsmemClient: wsmem.CompressionConfig{Enabled: true, ClientMaxWindowBits: 10, ServerMaxWindowBits: 11},
	},
}

func closeStep(op string, code int, reason string) drvStep {
	return drvStep{Op: op, Code: code, Reason: reason}
}

// compressedSteps is the message mix of every compressed scenario.
func compressedSteps(peerFrags bool) []drvStep {
	frag := 0
	if peerFrags {
		frag = 4096
	}
	return []drvStep{
		{Op: "echo", Type: "text", Gen: "zip", Len: 3000, Seed: 1, Repeat: 3},
		{Op: "echo", Type: "binary", Gen: "zip", Len: 64 << 10, Seed: 2},
		{Op: "echo", Type: "text", Gen: "zip", Len: 300_000, Seed: 3},
		{Op: "echo", Type: "binary", Gen: "random", Len: 8192, Seed: 4},
		{Op: "echo", Type: "text", Gen: "ascii", Len: 17, Seed: 5},
		{Op: "echo", Type: "binary", Gen: "random", Len: 0},
		{Op: "echo", Type: "text", Gen: "zip", Len: 1 << 20, Seed: 6},
		{Op: "echo", Type: "text", Gen: "zip", Len: 300_000, Seed: 7, Frag: frag, WsmemFrag: 4096},
		{Op: "echo", Type: "binary", Gen: "zip", Len: 2000, Seed: 8},
		closeStep("close-peer", 1000, "done"),
	}
}

// extScenarios is the matrix for Node's ws and Python's websockets.
func extScenarios(wsmemServer bool) []extScenario {
	plain := func(id, mode string, steps ...drvStep) extScenario {
		return extScenario{drvScenario: drvScenario{ID: id, Steps: steps}, recvMode: mode}
	}
	var utf8Lens []drvStep
	for i, n := range []int{1, 125, 126, 127, 1000, 65535, 65536, 100_000} {
		utf8Lens = append(utf8Lens, drvStep{Op: "echo", Type: "text", Gen: "utf8", Len: n, Seed: i})
	}
	var binLens []drvStep
	for i, n := range []int{1, 2, 125, 126, 127, 65535, 65536, 1 << 20} {
		binLens = append(binLens, drvStep{Op: "echo", Type: "binary", Gen: "random", Len: n, Seed: i})
	}
	out := []extScenario{
		plain("text", "next", append(append([]drvStep{{Op: "echo", Type: "text", Gen: "ascii", Len: 5}}, utf8Lens...),
			closeStep("close-peer", 1000, "done"))...),
		plain("binary", "recv", append(binLens, closeStep("close-peer", 1000, "done"))...),
		plain("empty", "reader",
			drvStep{Op: "echo", Type: "text", Gen: "ascii", Len: 0},
			drvStep{Op: "echo", Type: "binary", Gen: "random", Len: 0},
			drvStep{Op: "echo", Type: "text", Gen: "ascii", Len: 1},
			drvStep{Op: "echo", Type: "binary", Gen: "random", Len: 0},
			closeStep("close-peer", 1000, "done")),
		plain("fragmented", "recv",
			drvStep{Op: "echo", Type: "text", Gen: "utf8", Len: 300_000, Seed: 11, Frag: 1000, WsmemFrag: 1000},
			drvStep{Op: "echo", Type: "binary", Gen: "random", Len: 200_000, Seed: 12, Frag: 4096, WsmemFrag: 4096},
			closeStep("close-peer", 1000, "done")),
		plain("large", "recv",
			drvStep{Op: "echo", Type: "binary", Gen: "random", Len: 16 << 20, Seed: 21},
			drvStep{Op: "echo", Type: "text", Gen: "utf8", Len: 16 << 20, Seed: 22},
			closeStep("close-peer", 1000, "done")),
		plain("ping", "serve",
			drvStep{Op: "ping-peer", Data: "peer ping ✓"},
			drvStep{Op: "ping-peer", Data: ""},
			drvStep{Op: "ping-peer", Data: strings.Repeat("p", 125)},
			drvStep{Op: "ping-wsmem", Data: "wsmem ping ✓"},
			drvStep{Op: "ping-wsmem", Data: ""},
			drvStep{Op: "ping-wsmem", Data: strings.Repeat("w", 125)},
			drvStep{Op: "echo", Type: "text", Gen: "ascii", Len: 20},
			closeStep("close-peer", 1000, "done")),
		plain("close-by-peer", "next",
			drvStep{Op: "echo", Type: "text", Gen: "ascii", Len: 16},
			closeStep("close-peer", 4001, "peer says bye ✓")),
		plain("close-by-wsmem", "recv",
			drvStep{Op: "echo", Type: "binary", Gen: "random", Len: 16},
			closeStep("close-wsmem", 4002, "wsmem says bye ✓")),
	}
	// wsmem with compression on, the peer with it off.
	nc := plain("no-compression", "next", drvStep{Op: "echo", Type: "text", Gen: "zip", Len: 10_000, Seed: 31}, closeStep("close-peer", 1000, "done"))
	nc.wsmemCfg = on
	out = append(out, nc)
	for i, m := range extModes {
		s := extScenario{drvScenario: drvScenario{ID: "compressed-" + m.name, ExpectDeflate: true, Steps: compressedSteps(true)}}
		s.recvMode = []string{"next", "recv", "serve", "reader"}[i%4]
		if wsmemServer {
			d := m.peerClient
			s.Deflate, s.wsmemCfg = &d, m.wsmemServer
		} else {
			d := m.peerServer
			s.Deflate, s.wsmemCfg = &d, m.wsmemClient
		}
		out = append(out, s)
	}
	return out
}

// browserScenarios is the matrix for Chromium, always the client: no
// fragments and no pings from the page (the Web API has neither).
func browserScenarios() []extScenario {
	plain := func(id, mode string, steps ...drvStep) extScenario {
		return extScenario{drvScenario: drvScenario{ID: id, Steps: steps}, recvMode: mode}
	}
	out := []extScenario{
		plain("text", "next",
			drvStep{Op: "echo", Type: "text", Gen: "ascii", Len: 5},
			drvStep{Op: "echo", Type: "text", Gen: "utf8", Len: 1000, Seed: 1},
			drvStep{Op: "echo", Type: "text", Gen: "utf8", Len: 65536, Seed: 2},
			drvStep{Op: "echo", Type: "text", Gen: "ascii", Len: 0},
			closeStep("close-peer", 1000, "done")),
		plain("binary", "recv",
			drvStep{Op: "echo", Type: "binary", Gen: "random", Len: 125, Seed: 3},
			drvStep{Op: "echo", Type: "binary", Gen: "random", Len: 65536, Seed: 4},
			drvStep{Op: "echo", Type: "binary", Gen: "random", Len: 0},
			drvStep{Op: "echo", Type: "binary", Gen: "random", Len: 300_000, Seed: 5, WsmemFrag: 1000},
			closeStep("close-peer", 1000, "done")),
		plain("large", "recv",
			drvStep{Op: "echo", Type: "binary", Gen: "random", Len: 16 << 20, Seed: 21},
			drvStep{Op: "echo", Type: "text", Gen: "utf8", Len: 16 << 20, Seed: 22},
			closeStep("close-peer", 1000, "done")),
		plain("ping-by-wsmem", "serve",
			drvStep{Op: "ping-wsmem", Data: "wsmem ping ✓"},
			drvStep{Op: "echo", Type: "text", Gen: "ascii", Len: 20},
			closeStep("close-peer", 1000, "done")),
		plain("close-by-browser", "next",
			drvStep{Op: "echo", Type: "text", Gen: "ascii", Len: 16},
			closeStep("close-peer", 4001, "browser says bye ✓")),
		plain("close-by-wsmem", "reader",
			drvStep{Op: "echo", Type: "binary", Gen: "random", Len: 16},
			closeStep("close-wsmem", 4002, "wsmem says bye ✓")),
	}
	for i, m := range []struct {
		name string
		cfg  wsmem.CompressionConfig
	}{
		{"ctx", on},
		{"nct", wsmem.CompressionConfig{Enabled: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true}},
		{"wsmem-limits", wsmem.CompressionConfig{Enabled: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 9}},
	} {
		steps := append(compressedSteps(false)[:9:9],
			drvStep{Op: "echo", Type: "binary", Gen: "zip", Len: 16 << 20, Seed: 9},
			closeStep("close-peer", 4003, "compressed bye"))
		s := extScenario{drvScenario: drvScenario{ID: "compressed-" + m.name, ExpectDeflate: true, Deflate: &drvDeflate{}, Steps: steps}}
		s.wsmemCfg, s.recvMode = m.cfg, []string{"next", "serve", "recv"}[i]
		out = append(out, s)
	}
	return out
}

// ---- running a driver ----

// driverResult is the line a driver prints for each scenario.
type driverResult struct {
	ID     string   `json:"id"`
	OK     bool     `json:"ok"`
	Errors []string `json:"errors"`
	Ext    string   `json:"ext"` // the agreed extension as the peer reports it
	Close  []any    `json:"close"`
}

// driver is a child process running scenarios.
type driver struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	log    strings.Builder
	res    map[string]driverResult
	ports  map[string]int
	newRes chan struct{}
	exited chan struct{}
	err    error
}

func strict() bool { return os.Getenv("WSMEM_INTEROP_STRICT") == "1" }

// need skips the test when a tool is missing, or fails it under
// WSMEM_INTEROP_STRICT=1 (as run.sh sets).
func need(t *testing.T, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if strict() {
		t.Fatalf("%s is missing (run interop/run.sh to install it)", what)
	}
	t.Skipf("%s is missing: skipped (interop/run.sh installs it)", what)
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// startDriver runs the command with a time limit; RESULT and PORTS lines
// are collected, everything else kept for the failure report.
func startDriver(t *testing.T, limit time.Duration, name string, args ...string) *driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	d := &driver{cmd: cmd, res: map[string]driverResult{}, newRes: make(chan struct{}, 1), exited: make(chan struct{})}
	var err error
	if d.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &lockedWriter{w: &builderWriter{d}}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			switch {
			case strings.HasPrefix(line, "RESULT "):
				var r driverResult
				if err := json.Unmarshal([]byte(line[7:]), &r); err != nil {
					fmt.Fprintf(&d.log, "bad RESULT line: %s\n", line)
				} else {
					d.res[r.ID] = r
				}
			case strings.HasPrefix(line, "PORTS "):
				_ = json.Unmarshal([]byte(line[6:]), &d.ports)
			default:
				d.log.WriteString(line + "\n")
			}
			d.mu.Unlock()
			select {
			case d.newRes <- struct{}{}:
			default:
			}
		}
		d.err = cmd.Wait()
		cancel()
		close(d.exited)
	}()
	t.Cleanup(func() {
		_ = d.stdin.Close()
		select {
		case <-d.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-d.exited
		}
	})
	return d
}

type builderWriter struct{ d *driver }

func (b *builderWriter) Write(p []byte) (int, error) {
	b.d.mu.Lock()
	defer b.d.mu.Unlock()
	return b.d.log.Write(p)
}

// wait waits until cond holds for the driver's state, the driver exits, or
// the time is up.
func (d *driver) wait(limit time.Duration, cond func() bool) bool {
	deadline := time.After(limit)
	for {
		d.mu.Lock()
		ok := cond()
		d.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-d.newRes:
		case <-d.exited:
			d.mu.Lock()
			ok := cond()
			d.mu.Unlock()
			return ok
		case <-deadline:
			return false
		}
	}
}

func (d *driver) result(id string) (driverResult, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.res[id]
	return r, ok
}

func (d *driver) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.log.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}

func writeSpec(t *testing.T, scenarios []extScenario) string {
	t.Helper()
	var list []drvScenario
	for _, s := range scenarios {
		list = append(list, s.drvScenario)
	}
	b, err := json.MarshalIndent(list, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "scenarios.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ---- wsmem's server for the drivers ----

type agentServer struct {
	srv    *http.Server
	tap    *wiretap.Tap
	mu     sync.Mutex
	agents map[string]*agent
	specs  map[string]extScenario
	page   []byte // served at / for the browser
}

func newAgentServer(t *testing.T, scenarios []extScenario, page []byte) *agentServer {
	t.Helper()
	a := &agentServer{agents: map[string]*agent{}, specs: map[string]extScenario{}, page: page}
	for _, s := range scenarios {
		a.specs[s.ID] = s
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/s/{id}", func(w http.ResponseWriter, r *http.Request) {
		s, ok := a.specs[r.PathValue("id")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		cfg := &wsmem.Config{Compression: s.wsmemCfg}
		c, err := wsmem.Upgrade(w, r, 0, nil, cfg)
		if err != nil {
			t.Errorf("%s: wsmem.Upgrade: %v", s.ID, err)
			return
		}
		a.mu.Lock()
		a.agents[s.ID] = newAgent(c, s.recvMode)
		a.mu.Unlock()
	})
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(a.page)
	})
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	if a.tap, err = wiretap.New(ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.tap.Close()
		_ = a.srv.Close()
	})
	return a
}

func (a *agentServer) agent(id string) *agent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.agents[id]
}

// ---- checks ----

// echoSteps expands a scenario's echo steps, repeats included, in order.
func echoSteps(s extScenario) []drvStep {
	var out []drvStep
	for _, st := range s.Steps {
		if st.Op != "echo" {
			continue
		}
		for range max(1, st.Repeat) {
			out = append(out, st)
		}
	}
	return out
}

// checkScenario checks one scenario's three views: the driver's verdict,
// the agent's, and the wire.
func checkScenario(t *testing.T, peer string, s extScenario, dr driverResult, haveDr bool, ag *agent, conn *wiretap.Conn, wsmemServer bool) {
	t.Helper()
	if !haveDr {
		t.Errorf("%s printed no result for %s", peer, s.ID)
	} else {
		for _, e := range dr.Errors {
			t.Errorf("%s: %s", peer, e)
		}
		if !dr.OK && len(dr.Errors) == 0 {
			t.Errorf("%s: not ok", peer)
		}
		t.Logf("%s reports extension %q, close %v", peer, dr.Ext, dr.Close)
	}
	if ag == nil {
		t.Errorf("wsmem never got the connection for %s", s.ID)
		return
	}
	errs, echoes, end := ag.result()
	for _, e := range errs {
		t.Errorf("wsmem side: %s", e)
	}
	if ag.compression != s.ExpectDeflate {
		t.Errorf("wsmem Compression() = %v, want %v", ag.compression, s.ExpectDeflate)
	}
	want := echoSteps(s)
	if len(echoes) != len(want) {
		t.Errorf("wsmem echoed %d messages, want %d", len(echoes), len(want))
	}
	if conn == nil {
		t.Errorf("wire: the tap saw no connection")
		return
	}
	w := conn.Snapshot()
	if w.ParseError != nil {
		t.Errorf("wire: %v", w.ParseError)
	}
	req, resp := w.Request.Get("Sec-WebSocket-Extensions"), w.Response.Get("Sec-WebSocket-Extensions")
	t.Logf("wire: offer %q, answer %q; wsmem ended with %v", req, resp, end)
	if s.ExpectDeflate {
		if err := checkDeflateResponse(req, resp); err != nil {
			t.Errorf("wire handshake: %v", err)
		}
	} else if resp != "" {
		t.Errorf("wire: the handshake agreed %q, want no extension", resp)
	}
	fromPeer, fromWsmem := w.C2S, w.S2C
	if !wsmemServer {
		fromPeer, fromWsmem = w.S2C, w.C2S
	}
	mp, mw := wiretap.Messages(fromPeer), wiretap.Messages(fromWsmem)
	for i, e := range echoes {
		if i >= len(want) || e.recvIdx >= len(mp) || e.sentIdx >= len(mw) {
			t.Errorf("wire: echo %d is missing from the tap's record", i)
			continue
		}
		st, p, q := want[i], mp[e.recvIdx], mw[e.sentIdx]
		big := st.Gen == "zip" && st.Len >= 2000
		if !s.ExpectDeflate && (p.Compressed || q.Compressed) {
			t.Errorf("wire: echo %d has RSV1 set without permessage-deflate", i)
		}
		if s.ExpectDeflate && big {
			if !p.Compressed {
				t.Errorf("wire %s→wsmem: echo %d (%d compressible bytes) went uncompressed", peer, i, st.Len)
			}
			if !q.Compressed && st.WsmemFrag == 0 {
				t.Errorf("wire wsmem→%s: echo %d (%d compressible bytes) went uncompressed", peer, i, st.Len)
			}
		}
		if st.Frag > 0 && p.Frames < 2 {
			t.Errorf("wire %s→wsmem: echo %d went as %d frame(s), want fragments", peer, i, p.Frames)
		}
		if st.WsmemFrag > 0 && q.Frames < (st.Len+st.WsmemFrag-1)/st.WsmemFrag {
			t.Errorf("wire wsmem→%s: echo %d went as %d frames, want %d", peer, i, q.Frames, (st.Len+st.WsmemFrag-1)/st.WsmemFrag)
		}
	}
	// Close frames on the wire.
	last := s.Steps[len(s.Steps)-1]
	cp, cw := wiretap.Closes(fromPeer), wiretap.Closes(fromWsmem)
	code := fmt.Sprint(last.Code)
	switch last.Op {
	case "close-peer":
		if len(cp) != 1 || cp[0] != [2]string{code, last.Reason} {
			t.Errorf("wire %s→wsmem close frames %q, want [%s %q]", peer, cp, code, last.Reason)
		}
		if len(cw) != 1 || cw[0][0] != code {
			t.Errorf("wire wsmem→%s close frames %q, want one answering %s", peer, cw, code)
		}
	case "close-wsmem":
		if len(cw) != 1 || cw[0] != [2]string{code, last.Reason} {
			t.Errorf("wire wsmem→%s close frames %q, want [%s %q]", peer, cw, code, last.Reason)
		}
		if len(cp) != 1 {
			t.Errorf("wire %s→wsmem close frames %q, want one answer", peer, cp)
		} else if end.kind != evClose || fmt.Sprint(end.code) != cp[0][0] || end.reason != cp[0][1] {
			t.Errorf("wsmem ended with %v, but the peer's answer on the wire was %q", end, cp[0])
		}
	}
}

// runExternal runs one driver in both directions (or only as a client).
func runExternal(t *testing.T, peer string, scenarios func(wsmemServer bool) []extScenario, server, client func(args ...string) *driver, dirs []bool) {
	for _, wsmemServer := range dirs {
		name := "wsmem-server"
		if !wsmemServer {
			name = "wsmem-client"
		}
		t.Run(name, func(t *testing.T) {
			list := scenarios(wsmemServer)
			spec := writeSpec(t, list)
			if wsmemServer {
				as := newAgentServer(t, list, nil)
				d := client(spec, "ws://"+as.tap.Addr())
				if !d.wait(150*time.Second, func() bool { return len(d.res) == len(list) }) {
					t.Errorf("%s gave %d of %d results; its output:\n%s", peer, len(d.res), len(list), d.output())
				}
				for _, s := range list {
					t.Run(s.ID, func(t *testing.T) {
						dr, ok := d.result(s.ID)
						ag := as.agent(s.ID)
						conn, err := as.tap.Find("/s/"+s.ID, 5*time.Second)
						if err != nil && conn == nil {
							t.Error(err)
						}
						checkScenario(t, peer, s, dr, ok, ag, conn, true)
						if t.Failed() {
							t.Logf("%s output:\n%s", peer, d.output())
						}
					})
				}
				return
			}
			d := server(spec)
			if !d.wait(30*time.Second, func() bool { return d.ports != nil }) {
				t.Fatalf("%s server printed no ports; its output:\n%s", peer, d.output())
			}
			for _, s := range list {
				t.Run(s.ID, func(t *testing.T) {
					d.mu.Lock()
					port := d.ports[s.ID]
					d.mu.Unlock()
					tap, err := wiretap.New(fmt.Sprintf("127.0.0.1:%d", port))
					if err != nil {
						t.Fatal(err)
					}
					defer tap.Close()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					c, err := wsmem.Dial(ctx, "ws://"+tap.Addr()+"/s/"+s.ID, nil, &wsmem.Config{Compression: s.wsmemCfg})
					if err != nil {
						t.Fatalf("wsmem.Dial: %v; %s output:\n%s", err, peer, d.output())
					}
					ag := newAgent(c, s.recvMode)
					select {
					case <-ag.done:
					case <-time.After(30 * time.Second):
						_ = c.Close()
						t.Errorf("the scenario did not end within 30s")
					}
					d.wait(10*time.Second, func() bool { _, ok := d.res[s.ID]; return ok })
					dr, ok := d.result(s.ID)
					conn, err := tap.Find("/s/"+s.ID, 5*time.Second)
					if err != nil && conn == nil {
						t.Error(err)
					}
					checkScenario(t, peer, s, dr, ok, ag, conn, false)
					if t.Failed() {
						t.Logf("%s output:\n%s", peer, d.output())
					}
				})
			}
		})
	}
}

// ---- the drivers ----

func nodeDir() string { return filepath.Join(".", "node") }

func TestNodeWS(t *testing.T) {
	_, err := exec.LookPath("node")
	need(t, "node", err == nil)
	need(t, "interop/node/node_modules/ws (npm ci)", exists(filepath.Join(nodeDir(), "node_modules", "ws", "package.json")))
	run := func(mode string) func(...string) *driver {
		return func(args ...string) *driver {
			return startDriver(t, 170*time.Second, "node", append([]string{filepath.Join(nodeDir(), "peer.mjs"), mode}, args...)...)
		}
	}
	runExternal(t, "ws", extScenarios, run("server"), run("client"), []bool{true, false})
}

const python = "/usr/bin/python3"

func TestPythonWebsockets(t *testing.T) {
	ok := exists(python) && exec.Command(python, "-c", "import websockets").Run() == nil
	need(t, "Debian's python3-websockets", ok)
	run := func(mode string) func(...string) *driver {
		return func(args ...string) *driver {
			return startDriver(t, 170*time.Second, python, append([]string{"-u", filepath.Join("python", "peer.py"), mode}, args...)...)
		}
	}
	runExternal(t, "websockets", extScenarios, run("server"), run("client"), []bool{true, false})
}

func TestChromium(t *testing.T) {
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	_, err := exec.LookPath("node")
	need(t, "node", err == nil)
	need(t, chromium, exists(chromium))
	need(t, "interop/node/node_modules/playwright-core (npm ci)", exists(filepath.Join(nodeDir(), "node_modules", "playwright-core", "package.json")))
	list := browserScenarios()
	spec := writeSpec(t, list)
	as := newAgentServer(t, list, []byte("<!doctype html><meta charset=utf-8><title>wsmem interop</title><p>wsmem interop</p>"))
	d := startDriver(t, 170*time.Second, "node", filepath.Join(nodeDir(), "browser.mjs"), spec, "http://"+as.tap.Addr()+"/", chromium)
	if !d.wait(160*time.Second, func() bool { return len(d.res) == len(list) }) {
		t.Errorf("chromium gave %d of %d results; its output:\n%s", len(d.res), len(list), d.output())
	}
	for _, s := range list {
		t.Run(s.ID, func(t *testing.T) {
			dr, ok := d.result(s.ID)
			conn, err := as.tap.Find("/s/"+s.ID, 5*time.Second)
			if err != nil && conn == nil {
				t.Error(err)
			}
			checkScenario(t, "chromium", s, dr, ok, as.agent(s.ID), conn, true)
			if t.Failed() {
				t.Logf("driver output:\n%s", d.output())
			}
		})
	}
}
