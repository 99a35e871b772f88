package wsmem

func (c *Conn) serverHandshake() error            { return ErrNotSupported }
func (c *Conn) clientHandshake(_, _ string) error { return ErrNotSupported }
