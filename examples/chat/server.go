package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wsmem/wsmem"
)

//go:embed index.html
var indexHTML []byte

// options are the chat's tunables; main uses defaultOptions, tests shrink them.
type options struct {
	History    int           // chat messages kept and sent to newcomers
	QueueLen   int           // envelopes waiting for one client before it is dropped
	WriteWait  time.Duration // how long one send may block before the client is dropped
	MaxMessage int64         // longest message a client may send
	MaxName    int           // longest nickname, in runes
}

func defaultOptions() options {
	return options{
		History:    50,
		QueueLen:   64,
		WriteWait:  5 * time.Second,
		MaxMessage: 4 << 10,
		MaxName:    32,
	}
}

// envelope is what every client receives, one JSON object per text
// message:
//
//	{"type":"welcome","name":"alice","users":["bob"]}  to a newcomer: its name, who else is here
//	{"type":"history","messages":[{"type":"message",...},...]}  to a newcomer, if any
//	{"type":"join","name":"alice","time":1700000000000}
//	{"type":"message","name":"alice","text":"hi","time":...}
//	{"type":"leave","name":"alice","text":"dropped: too slow","time":...}
type envelope struct {
	Type     string     `json:"type"`
	Name     string     `json:"name,omitempty"`
	Text     string     `json:"text,omitempty"`
	Time     int64      `json:"time,omitempty"` // Unix milliseconds
	Users    []string   `json:"users,omitempty"`
	Messages []envelope `json:"messages,omitempty"`
}

// server is the chat: an HTTP handler for the page and the WebSocket
// endpoint, and the room every connection joins.
type server struct {
	opt    options
	cfg    *wsmem.Config
	guests atomic.Int64
	conns  sync.WaitGroup // running connections, for shutdown

	mu      sync.Mutex
	clients map[*client]struct{}
	history []envelope // the last opt.History chat messages, oldest first
	closing bool
}

// client is one connection in the room. It is the connection's
// wsmem.Handler; its writer goroutine drains out.
type client struct {
	wsmem.NopHandler
	srv  *server
	conn *wsmem.Conn
	name string
	// out queues encoded envelopes. The hub never blocks on it: when it is
	// full the client is too slow and is dropped. Only the hub (with
	// server.mu held) sends on it or closes it.
	out chan *wsmem.PreparedMessage
}

func newServer(opt options) *server {
	opt.QueueLen = max(opt.QueueLen, 3) // welcome, history and join go in at once
	return &server{
		opt:     opt,
		clients: make(map[*client]struct{}),
		// One Config for every connection, read-only once in use.
		cfg: &wsmem.Config{
			MaxMessageSize: opt.MaxMessage,
			// Serve pings a browser that has been quiet for 30s (it answers
			// by itself) and drops one silent for 75s.
			PingInterval: 30 * time.Second,
			IdleTimeout:  75 * time.Second,
		},
	}
}

// routes serves the page at / and the chat at /ws.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(indexHTML)
	})
	mux.HandleFunc("/ws", s.serveWS)
	return mux
}

// serveWS upgrades the request and runs the connection until it ends.
func (s *server) serveWS(w http.ResponseWriter, r *http.Request) {
	name := s.nickname(r.URL.Query().Get("name"))
	// A nil Storage lets wsmem allocate one per connection (about a KiB);
	// a server with many connections would hand out Storages from its own
	// slab or free list instead.
	c, err := wsmem.Upgrade(w, r, wsmem.Text, nil, s.cfg)
	if err != nil {
		return // Upgrade already answered the refusal (400, 403, 426, ...)
	}
	cl := &client{srv: s, conn: c, name: name, out: make(chan *wsmem.PreparedMessage, s.opt.QueueLen)}
	go cl.writeLoop(s.opt.WriteWait)
	if !s.join(cl) {
		c.Done(wsmem.StatusGoingAway, []byte("server shutting down"))
		close(cl.out)
		c.Close()
		return
	}
	defer s.conns.Done() // join counted the connection
	// Serve is this goroutine's receive loop: it calls OnMessage for every
	// message, answers pings, runs the heartbeat and calls OnClose once.
	_ = c.Serve(cl)
	s.leave(cl)
	c.Close()
}

// nickname cleans the requested name, or makes up a guest's.
func (s *server) nickname(want string) string {
	want = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.ToValidUTF8(want, ""))
	want = strings.TrimSpace(want)
	if n := s.opt.MaxName; utf8.RuneCountInString(want) > n {
		want = strings.TrimSpace(string([]rune(want)[:n]))
	}
	if want == "" {
		want = fmt.Sprintf("guest-%d", s.guests.Add(1))
	}
	return want
}

// OnMessage turns a text message into a chat line for everyone. data is
// valid only during the call: string(data) copies it.
func (cl *client) OnMessage(c *wsmem.Conn, typ wsmem.Flags, data []byte) {
	if typ != wsmem.Text {
		_ = c.Done(wsmem.StatusUnsupportedData, []byte("text messages only"))
		return
	}
	text := strings.TrimSpace(string(data))
	if text == "" {
		return
	}
	cl.srv.say(cl, text)
}

// OnClose logs connections that ended other than by a close handshake.
func (cl *client) OnClose(_ *wsmem.Conn, code wsmem.StatusCode, _ []byte, err error) {
	if err != nil {
		log.Printf("chat: %s: connection ended (%d): %v", cl.name, code, err)
	}
}

// writeLoop sends what the hub queued for this client, one message at a
// time, each bounded by a write deadline. A send that fails or times out
// closes the connection: a client that cannot keep up is dropped rather
// than allowed to hold the line (the hub never waits for it either).
func (cl *client) writeLoop(wait time.Duration) {
	for msg := range cl.out {
		_ = cl.conn.SetWriteDeadline(time.Now().Add(wait))
		if err := cl.conn.SendPrepared(msg); err != nil {
			// Timeout, ErrQueued (deadline inside the frame) or a dead
			// line: the connection goes. Serve then returns and leave
			// runs; the hub stops queuing for it.
			cl.conn.Close()
			return
		}
		if len(cl.out) == 0 {
			// Idle: clear the deadline so that the pongs and heartbeat
			// pings Serve writes are not cut by a stale one.
			_ = cl.conn.SetWriteDeadline(time.Time{})
		}
	}
}

// join adds cl to the room: it gets a welcome and the history, everyone
// (cl too) gets the join notice. It reports false while shutting down.
func (s *server) join(cl *client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	users := []string{}
	for other := range s.clients {
		users = append(users, other.name)
	}
	slices.Sort(users)
	// The queue is empty and holds at least 3: these sends do not block.
	cl.out <- prepare(&envelope{Type: "welcome", Name: cl.name, Users: users})
	if len(s.history) > 0 {
		cl.out <- prepare(&envelope{Type: "history", Messages: s.history})
	}
	s.clients[cl] = struct{}{}
	s.conns.Add(1) // under mu, so never concurrent with shutdown's Wait
	s.publishLocked(&envelope{Type: "join", Name: cl.name, Time: now()})
	return true
}

// leave removes cl from the room and tells the others, once.
func (s *server) leave(cl *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[cl]; !ok {
		return // already dropped
	}
	s.removeLocked(cl)
	s.publishLocked(&envelope{Type: "leave", Name: cl.name, Time: now()})
}

// say publishes a chat line and keeps it in the history.
func (s *server) say(cl *client, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[cl]; !ok {
		return
	}
	e := envelope{Type: "message", Name: cl.name, Text: text, Time: now()}
	if s.opt.History > 0 {
		if len(s.history) == s.opt.History {
			copy(s.history, s.history[1:])
			s.history = s.history[:len(s.history)-1]
		}
		s.history = append(s.history, e)
	}
	s.publishLocked(&e)
}

// publishLocked sends e to every client.
//
// Broadcast cost: the envelope is JSON-encoded once and framed once, as a
// wsmem.PreparedMessage, and that same value is queued for every client.
// Each writer goroutine hands it to Conn.SendPrepared, which writes the
// prepared frame bytes with one write: nothing is encoded, copied or
// compressed per client.
//
// A client whose queue is full is dropped on the spot (its connection is
// closed and the others are told), so one stalled reader never delays the
// room. Called with s.mu held.
func (s *server) publishLocked(e *envelope) {
	pending := []*envelope{e}
	for len(pending) > 0 {
		e := pending[0]
		pending = pending[1:]
		msg := prepare(e)
		for cl := range s.clients {
			select {
			case cl.out <- msg:
			default:
				s.removeLocked(cl)
				// Close may wait up to 100ms to send its close frame: not
				// with the room locked.
				go cl.conn.Close()
				pending = append(pending, &envelope{Type: "leave", Name: cl.name, Text: "dropped: too slow", Time: now()})
			}
		}
	}
}

// removeLocked takes cl out of the room and ends its writer once the
// queue is drained. Called with s.mu held.
func (s *server) removeLocked(cl *client) {
	delete(s.clients, cl)
	close(cl.out)
}

// shutdown tells every client the server is going away (close code 1001),
// waits for their close handshakes until ctx ends, then closes what is
// left.
func (s *server) shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	var all []*client
	for cl := range s.clients {
		all = append(all, cl)
		s.removeLocked(cl)
	}
	s.mu.Unlock()
	for _, cl := range all {
		go func() {
			_ = cl.conn.SetWriteDeadline(time.Now().Add(time.Second))
			_ = cl.conn.Done(wsmem.StatusGoingAway, []byte("server shutting down"))
		}()
	}
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		for _, cl := range all {
			cl.conn.Close()
		}
	}
}

func encode(e *envelope) []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err) // strings and ints only: cannot fail
	}
	return b
}

func now() int64 { return time.Now().UnixMilli() }

// prepare encodes e once as a message ready for every client.
func prepare(e *envelope) *wsmem.PreparedMessage {
	return wsmem.NewPreparedMessage(wsmem.Text, encode(e), nil)
}
