package loop

import "github.com/wsmem/wsmem"

// broadcast sends m to every chat connection of every loop. from is the
// loop the message came in on: it drains its inbox at the end of its
// current batch of events; the other loops are woken up to drain theirs.
// m is encoded once, when it was made, and shared by all loops.
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
// connections, in the order they were posted: the frame goes straight to
// the socket from the one shared copy, and is copied only for a
// connection whose socket refuses it.
func (l *loop) drainInbox() {
	l.mu.Lock()
	msgs := l.inbox
	l.inbox, l.spare = l.spare[:0], nil
	l.mu.Unlock()
	if len(msgs) == 0 {
		l.spare = msgs
		return
	}
	for k, m := range msgs {
		frame := l.frames.of(m)
		for i := range l.slab.used {
			if e := l.slab.at(i); e.state == stateChat {
				l.send(i, e, frame)
			}
		}
		msgs[k] = nil
	}
	l.spare = msgs[:0]
}
