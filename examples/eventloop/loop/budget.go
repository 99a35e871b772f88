package loop

// overBudget reports whether e has more output waiting for its socket than
// Config.MaxPending allows; such a connection is dropped. This is the one
// place to change when wsmem's Config gets its outbound budget (a send
// over it refused with an error).
func (l *loop) overBudget(e *conn) bool {
	return len(e.out) > l.srv.cfg.MaxPending
}
