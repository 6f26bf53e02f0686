package lab

import (
	"net"
	"os"
	"path/filepath"

	"github.com/smtpsh/smtpsh/transcripts"
)

// writeLog writes the session's transcript into Config.LogDir, named by
// start time, client port and session ID so that names sort by time and
// never collide: 20261125T191000.123Z-51234-6A1B2C3D4.txt. Secrets are
// redacted (transcripts.Write's default).
func (s *session) writeLog() {
	port := "0"
	if _, p, err := net.SplitHostPort(s.remote); err == nil {
		port = p
	}
	name := s.started.UTC().Format("20060102T150405.000Z") + "-" + port + "-" + s.id + ".txt"
	path := filepath.Join(s.srv.cfg.LogDir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		s.srv.logf("lab: session log: %v", err)
		return
	}
	err = transcripts.Write(f, s.tr, transcripts.WriteOptions{Times: true})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.srv.logf("lab: session log %s: %v", path, err)
	}
}
