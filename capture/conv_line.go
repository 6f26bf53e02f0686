package capture

import "bytes"

// lineBuf splits a byte stream into lines ended by LF (a bare LF ends a line
// too: captures are read leniently, and the warning is the caller's). It
// carries a partial line across calls, at most max bytes of it: a longer line
// is returned cut to max bytes, with its length, once its LF arrives.
type lineBuf struct {
	max  int
	b    []byte
	long int64 // bytes of the current line past max, dropped
}

// next returns the next complete line of p without its LF (with its CR, if
// any), the bytes of p after it, and the full length of the line when it
// was longer than max. ok is false when p holds no LF: p was carried.
// line may alias p or the carry; it is valid until the next call.
func (lb *lineBuf) next(p []byte) (line, rest []byte, full int64, ok bool) {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		lb.carry(p)
		return nil, nil, 0, false
	}
	if len(lb.b) == 0 && lb.long == 0 {
		if i <= lb.max {
			return p[:i], p[i+1:], 0, true
		}
		full = int64(i)
		return p[:lb.max], p[i+1:], full, true
	}
	lb.carry(p[:i])
	line = lb.b
	if lb.long > 0 {
		full = int64(len(lb.b)) + lb.long
	}
	lb.b = lb.b[:0]
	lb.long = 0
	return line, p[i+1:], full, true
}

// carry keeps p as the start (or more) of the current line, up to max.
func (lb *lineBuf) carry(p []byte) {
	room := lb.max - len(lb.b)
	if len(p) > room {
		lb.long += int64(len(p) - room)
		p = p[:room]
	}
	lb.b = append(lb.b, p...)
}

// reset drops the partial line.
func (lb *lineBuf) reset() {
	lb.b = lb.b[:0]
	lb.long = 0
}

// pending reports whether a partial line is carried.
func (lb *lineBuf) pending() bool { return len(lb.b) > 0 || lb.long > 0 }

// flush returns the partial line (the stream ended without its LF) and
// resets; full is as for next.
func (lb *lineBuf) flush() (line []byte, full int64) {
	line = lb.b
	if lb.long > 0 {
		full = int64(len(lb.b)) + lb.long
	}
	lb.b = lb.b[:0]
	lb.long = 0
	return line, full
}

// trimCR removes one CR before the LF the line ended with.
func trimCR(line []byte) ([]byte, bool) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1], true
	}
	return line, false
}
