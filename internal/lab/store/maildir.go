package store

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RelayedDir is the Maildir, under the root, that holds relayed mail. It
// starts with '.', which ValidMailbox refuses, so no user can own it.
const RelayedDir = ".relayed"

// maildir writes messages as Maildir files, following
// https://cr.yp.to/proto/maildir.html: write tmp/<unique>, fsync, move it
// into new/, fsync new/.
//
// Files hold the raw message with LF line ends: the Maildir convention
// (qmail, Dovecot and mutt read and write LF) rather than SMTP's CRLF, so
// the CRLF of every line is written as LF. A lone CR or LF is kept as is.
type maildir struct {
	root  string
	host  string // hostname with '/' and ':' escaped, as the spec asks
	pid   int
	nonce string // random per store, so two stores in one process never clash

	mu    sync.Mutex
	ready map[string]bool // directories known to have tmp, new and cur
}

func openMaildir(root, hostname string) (*maildir, error) {
	if hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		hostname = h
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("store: maildir root: %w", err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("store: maildir root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("store: maildir root %s is not a directory", root)
	}
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, fmt.Errorf("store: random name part: %w", err)
	}
	return &maildir{
		root:  root,
		host:  escapeHost(hostname),
		pid:   os.Getpid(),
		nonce: hex.EncodeToString(r[:]),
		ready: make(map[string]bool),
	}, nil
}

// escapeHost makes hostname fit a Maildir file name: the spec replaces '/'
// with \057 and ':' with \072 (':' starts the info part of a name).
func escapeHost(h string) string {
	h = strings.ReplaceAll(h, "/", `\057`)
	return strings.ReplaceAll(h, ":", `\072`)
}

// uniqueName builds "<sec>.M<usec>P<pid>Q<seq>R<random>.<host>", the
// spec's modern form: the delivery time, this process, its delivery
// counter and random bytes together are unique on this host.
func (md *maildir) uniqueName(t time.Time, seq uint64) string {
	b := make([]byte, 0, 64+len(md.host))
	b = strconv.AppendInt(b, t.Unix(), 10)
	b = append(b, ".M"...)
	b = strconv.AppendInt(b, int64(t.Nanosecond()/1000), 10)
	b = append(b, 'P')
	b = strconv.AppendInt(b, int64(md.pid), 10)
	b = append(b, 'Q')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, 'R')
	b = append(b, md.nonce...)
	b = append(b, '.')
	b = append(b, md.host...)
	return string(b)
}

// deliver writes m once per Maildir (its mailboxes, then the relayed one)
// and returns once every copy is durable. The first copy is written and
// fsynced in tmp/; the others are hard links to it made straight in their
// new/ (link is atomic, so a reader never sees a partial file), or copies
// where linking fails; then the first is renamed into its new/ and every
// new/ is fsynced. On error, copies already in new/ are removed, so the
// client's retry after a 4xx does not deliver twice.
func (md *maildir) deliver(m *Message, t time.Time, seq uint64) error {
	dirs := make([]string, 0, len(m.Mailboxes)+1)
	for _, b := range m.Mailboxes {
		dirs = append(dirs, filepath.Join(md.root, b))
	}
	if m.Relayed {
		dirs = append(dirs, filepath.Join(md.root, RelayedDir))
	}
	for _, d := range dirs {
		if err := md.prepare(d); err != nil {
			return err
		}
	}
	name := md.uniqueName(t, seq)
	body := toLF(m.Data)

	tmp := filepath.Join(dirs[0], "tmp", name)
	if err := writeSynced(tmp, body); err != nil {
		return err
	}
	var placed []string // files in some new/
	undo := func(err error) error {
		os.Remove(tmp)
		for _, p := range placed {
			os.Remove(p)
		}
		return err
	}
	for _, d := range dirs[1:] {
		dst := filepath.Join(d, "new", name)
		if err := os.Link(tmp, dst); err != nil {
			// A file system without hard links, or across devices: copy.
			other := filepath.Join(d, "tmp", name)
			if err := writeSynced(other, body); err != nil {
				return undo(err)
			}
			if err := os.Rename(other, dst); err != nil {
				os.Remove(other)
				return undo(fmt.Errorf("store: maildir: %w", err))
			}
		}
		placed = append(placed, dst)
	}
	dst := filepath.Join(dirs[0], "new", name)
	if err := os.Rename(tmp, dst); err != nil {
		return undo(fmt.Errorf("store: maildir: %w", err))
	}
	placed = append(placed, dst)
	for _, d := range dirs {
		if err := syncDir(filepath.Join(d, "new")); err != nil {
			return undo(err)
		}
	}
	return nil
}

// prepare makes dir a Maildir (tmp, new and cur, mode 0700) the first time
// the store uses it, and fsyncs the directories it made so they survive a
// crash along with the first message.
func (md *maildir) prepare(dir string) error {
	md.mu.Lock()
	ok := md.ready[dir]
	md.mu.Unlock()
	if ok {
		return nil
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		p := filepath.Join(dir, sub)
		if err := os.MkdirAll(p, 0o700); err != nil {
			return fmt.Errorf("store: maildir: %w", err)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("store: maildir: %w", err)
		}
		if !fi.IsDir() {
			// A symlink planted here could send mail outside the root.
			return fmt.Errorf("store: maildir: %s is not a directory", p)
		}
	}
	for _, d := range []string{dir, md.root} {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	md.mu.Lock()
	md.ready[dir] = true
	md.mu.Unlock()
	return nil
}

// writeSynced creates name (which must not exist: the spec's unique names
// never repeat, so an existing file means something is wrong), writes b
// and fsyncs it.
func writeSynced(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("store: maildir: %w", err)
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(name)
		return fmt.Errorf("store: maildir: write %s: %w", name, err)
	}
	return nil
}

// syncDir fsyncs a directory so the names created in it are durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: maildir: %w", err)
	}
	err = f.Sync()
	f.Close()
	if err != nil && !errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("store: maildir: fsync %s: %w", dir, err)
	}
	return nil
}

// toLF returns b with every CRLF written as LF; b itself when it has none.
func toLF(b []byte) []byte {
	if !bytes.Contains(b, []byte("\r\n")) {
		return b
	}
	return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
}
