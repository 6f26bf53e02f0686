package shell

import (
	"net"
	"sync"

	"github.com/smtpsh/smtpsh/internal/render"
)

// maxRawBuffer bounds the received bytes kept for :raw between two
// events; the rest is counted, not kept.
const maxRawBuffer = 64 << 10

// tapConn keeps a copy of the bytes read while :raw is on, for the
// session's goroutine to print: reads happen on the reply reader's
// goroutine, and only the session's goroutine writes output.
type tapConn struct {
	net.Conn
	mu      sync.Mutex
	on      bool
	got     []byte
	dropped int
}

// Read reads from the connection and keeps a copy when :raw is on.
func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if c.on {
			keep := min(n, maxRawBuffer-len(c.got))
			c.got = append(c.got, p[:keep]...)
			c.dropped += n - keep
		}
		c.mu.Unlock()
	}
	return n, err
}

// setRaw turns the copy on or off.
func (c *tapConn) setRaw(on bool) {
	c.mu.Lock()
	c.on = on
	c.got, c.dropped = nil, 0
	c.mu.Unlock()
}

// take returns and forgets the bytes kept so far.
func (c *tapConn) take() ([]byte, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, d := c.got, c.dropped
	c.got, c.dropped = nil, 0
	return b, d
}

// rawOn reports whether :raw is on.
func (c *tapConn) rawOn() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.on
}

// printRawReceived prints the bytes received since the last call, CR and
// LF visible and anything unprintable in hex (render.Escape).
func (s *Session) printRawReceived() {
	if s.tap == nil {
		return
	}
	b, dropped := s.tap.take()
	if len(b) > 0 {
		s.print(render.Note(s.cfg.Terminal, "<- "+render.Escape(string(b))))
	}
	if dropped > 0 {
		s.note("<- ... %d more bytes not shown", dropped)
	}
}

// printRawSent prints bytes as they are sent, when :raw is on.
func (s *Session) printRawSent(b []byte) {
	if s.tap != nil && s.tap.rawOn() {
		s.print(render.Note(s.cfg.Terminal, "-> "+render.Escape(string(b))))
	}
}

// setRaw is :raw on|off.
func (s *Session) setRaw(arg string) {
	switch arg {
	case "on":
		s.tap.setRaw(true)
		s.note("raw on: bytes sent (->) and received (<-) are shown as on the wire, CR LF visible, other control bytes in hex")
	case "off":
		s.tap.setRaw(false)
		s.note("raw off")
	default:
		s.warn(":raw on or :raw off")
	}
}
