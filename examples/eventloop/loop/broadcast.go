package loop

import "github.com/wsmem/wsmem"

// broadcast sends m to every chat connection of every loop. from is the
// loop the message came in on: it drains its inbox at the end of its
// current batch of events; the other loops are woken up to drain theirs.
// m is framed once, when it was made, and shared by all loops.
func (s *Server) broadcast(from *loop, m *wsmem.PreparedMessage) {
	for _, l := range s.loops {
		if l.post(m) && l != from {
			l.wakeUp()
		}
	}
}

// post queues m for the loop; it reports whether the inbox was empty (so
// that the loop may need waking up).
func (l *loop) post(m *wsmem.PreparedMessage) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inbox = append(l.inbox, m)
	return len(l.inbox) == 1
}

// drainInbox sends the broadcasts posted to the loop to each of its chat
// connections, in the order they were posted, with AppendPrepared: to the
// pending output of a connection that has some (where the budget may
// refuse it: the connection is dropped), else into the loop's output
// buffer and to the socket.
func (l *loop) drainInbox() {
	l.mu.Lock()
	msgs := l.inbox
	l.inbox, l.spare = l.spare[:0], nil
	l.mu.Unlock()
	for k, m := range msgs {
		for i := range l.slab.used {
			if e := l.slab.at(i); e.state == stateChat {
				l.sendPrepared(i, e, m)
			}
		}
		msgs[k] = nil
	}
	l.spare = msgs[:0]
}

// sendPrepared appends m to slot i's output.
func (l *loop) sendPrepared(i int32, e *conn, m *wsmem.PreparedMessage) {
	c := e.st.Conn()
	if e.out != nil {
		var err error
		if e.out, err = c.AppendPrepared(e.out, m); slow(err) {
			l.drop(i, e)
		}
		return
	}
	out, _ := c.AppendPrepared(l.wbuf[:0], m) // an error: nothing appended
	l.send(i, e, out)
	if cap(out) <= outputKeep {
		l.wbuf = out[:0]
	}
}
