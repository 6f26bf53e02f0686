// Package store keeps the messages the lab accepted: per mailbox in memory,
// a queue of "relayed" mail that never leaves the machine, and, when asked,
// a Maildir on disk that mutt can read.
//
// The lab answers 250 to the end of DATA only after Deliver returns nil, so
// Deliver returns only once the message is durable: in memory for a
// memory-only store, and fsynced into new/ of every Maildir it belongs to
// otherwise (RFC 5321 §4.1.1.4: the 250 takes responsibility for the
// message).
//
// Memory is bounded: the store keeps at most Options.MaxMessages messages
// and Options.MaxBytes bytes of message data in memory, and drops the oldest
// (from every mailbox and the relayed queue at once) to stay under them. A
// dropped message stays in the Maildir; Dropped counts them and
// Options.Logf is told when dropping starts.
package store

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Message is one accepted message with its envelope.
type Message struct {
	ID        string            // set by Deliver if empty: unique, sortable (time + counter), safe as a file name
	From      string            // reverse-path as text ("" for the null path <>)
	To        []string          // accepted recipients (mailbox text)
	Mailboxes []string          // local mailboxes it is delivered to (after alias/list expansion), e.g. ["alice","bob"]
	Relayed   bool              // addressed outside the lab's domain and accepted by a relay policy
	Params    map[string]string // MAIL parameters recorded (SIZE, BODY, SMTPUTF8, RET, ENVID, ...)
	Data      []byte            // the message as received (unstuffed, CRLF line ends), Received: header already prepended
	Received  time.Time
	Remote    string
}

// Default memory bounds for New; see Options.
const (
	DefaultMaxMessages = 10000
	DefaultMaxBytes    = 256 << 20
)

// ErrClosed is returned by Deliver after Close.
var ErrClosed = errors.New("store: closed")

// Options configure a Store.
type Options struct {
	// Maildir is the root under which each mailbox is a Maildir
	// (<Maildir>/<mailbox>/{tmp,new,cur}) and relayed mail is the Maildir
	// <Maildir>/.relayed. Empty means memory only.
	Maildir string
	// MaxMessages and MaxBytes bound what is kept in memory: 0 means the
	// default (DefaultMaxMessages, DefaultMaxBytes), a negative value means
	// no bound. The newest message is always kept, however large.
	MaxMessages int
	MaxBytes    int64
	// Hostname goes into Maildir file names; empty means os.Hostname.
	Hostname string
	// Logf, if set, is told once when the store first drops messages from
	// memory, so the lab can say so.
	Logf func(format string, args ...any)
}

// Store keeps delivered messages; it is safe for concurrent use.
type Store struct {
	maildir *maildir // nil for memory only
	maxMsgs int
	maxData int64
	logf    func(format string, args ...any)

	// life is held for reading by every Deliver, and for writing by Close,
	// so Close waits for deliveries in flight.
	life   sync.RWMutex
	closed bool

	mu        sync.Mutex
	mailboxes map[string][]*Message
	relayed   []*Message
	held      []*Message // every message in memory, oldest first, for dropping
	heldBytes int64
	delivered int
	dropped   int
	lastTime  time.Time
	seq       uint64
}

// New returns a store with the default memory bounds that also writes
// Maildirs under maildir, or keeps memory only if maildir is "".
func New(maildir string) (*Store, error) {
	return NewWithOptions(Options{Maildir: maildir})
}

// NewWithOptions returns a store configured by opts. With a Maildir root it
// creates the root (mode 0700: mail is private) if it does not exist.
func NewWithOptions(opts Options) (*Store, error) {
	s := &Store{
		maxMsgs:   opts.MaxMessages,
		maxData:   opts.MaxBytes,
		logf:      opts.Logf,
		mailboxes: make(map[string][]*Message),
	}
	if s.maxMsgs == 0 {
		s.maxMsgs = DefaultMaxMessages
	}
	if s.maxData == 0 {
		s.maxData = DefaultMaxBytes
	}
	if opts.Maildir != "" {
		md, err := openMaildir(opts.Maildir, opts.Hostname)
		if err != nil {
			return nil, err
		}
		s.maildir = md
	}
	return s, nil
}

// Deliver stores m in every mailbox of m.Mailboxes and, if m.Relayed, in
// the relayed queue, and returns once it is durable (see the package
// comment). It sets m.ID if empty and m.Received if zero, and removes
// duplicate mailboxes (keeping the first), as Postfix does when aliases
// and lists name one mailbox twice, so a message is delivered once per
// mailbox. m must have a mailbox or be relayed, and every mailbox name
// must pass ValidMailbox.
//
// The store keeps m itself, not a copy: the caller must not change m or
// m.Data after Deliver.
func (s *Store) Deliver(m *Message) error {
	if m == nil {
		return errors.New("store: deliver a nil message")
	}
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closed {
		return ErrClosed
	}
	boxes, err := uniqueMailboxes(m.Mailboxes)
	if err != nil {
		return err
	}
	if len(boxes) == 0 && !m.Relayed {
		return errors.New("store: message has no mailbox and is not relayed: it would be lost")
	}
	if m.ID != "" {
		if err := checkName(m.ID); err != nil {
			return fmt.Errorf("store: message ID %q: %w", m.ID, err)
		}
	}
	m.Mailboxes = boxes

	s.mu.Lock()
	now := time.Now().Round(0) // wall clock only: IDs are made from it
	if now.Before(s.lastTime) {
		now = s.lastTime // a clock stepped back must not break ID order
	}
	s.lastTime = now
	s.seq++
	seq := s.seq
	if m.ID == "" {
		m.ID = makeID(now, seq)
	}
	if m.Received.IsZero() {
		m.Received = now
	}
	if s.maildir != nil {
		// Disk first and outside the lock: the fsyncs are slow, and a
		// message the disk refused must not be visible in memory. With a
		// Maildir, delivery order is the order deliveries finish, which
		// may differ from ID order by the few in flight at once.
		s.mu.Unlock()
		if err := s.maildir.deliver(m, now, seq); err != nil {
			return err
		}
		s.mu.Lock()
	}
	first := s.add(m, boxes)
	s.mu.Unlock()
	if first && s.logf != nil {
		s.logf("store: memory holds at most %s messages and %s bytes; dropping the oldest from memory (Maildir copies stay)",
			bound(s.maxMsgs), bound(s.maxData))
	}
	return nil
}

// add puts m in memory and evicts what the bounds ask; it reports whether
// this was the first eviction. s.mu is held.
func (s *Store) add(m *Message, boxes []string) (first bool) {
	for _, b := range boxes {
		s.mailboxes[b] = append(s.mailboxes[b], m)
	}
	if m.Relayed {
		s.relayed = append(s.relayed, m)
	}
	s.held = append(s.held, m)
	s.heldBytes += int64(len(m.Data))
	s.delivered++
	before := s.dropped
	s.evict()
	return before == 0 && s.dropped > 0
}

// bound formats a limit, negative meaning none.
func bound[T int | int64](n T) string {
	if n < 0 {
		return "unlimited"
	}
	return strconv.FormatInt(int64(n), 10)
}

// evict drops the oldest messages while a bound is exceeded, keeping the
// newest. The oldest message overall is the first of every list it is in,
// because every list is in delivery order. s.mu is held.
func (s *Store) evict() {
	for len(s.held) > 1 &&
		(s.maxMsgs >= 0 && len(s.held) > s.maxMsgs || s.maxData >= 0 && s.heldBytes > s.maxData) {
		old := s.held[0]
		s.held[0] = nil // let the collector have it
		s.held = s.held[1:]
		s.heldBytes -= int64(len(old.Data))
		for _, b := range old.Mailboxes {
			list := s.mailboxes[b]
			if len(list) > 0 && list[0] == old {
				list[0] = nil
				if len(list) == 1 {
					delete(s.mailboxes, b)
				} else {
					s.mailboxes[b] = list[1:]
				}
			}
		}
		if old.Relayed && len(s.relayed) > 0 && s.relayed[0] == old {
			s.relayed[0] = nil
			s.relayed = s.relayed[1:]
		}
		s.dropped++
	}
}

// makeID formats time and counter so that IDs sort in delivery order as
// strings: UTC to the nanosecond, fixed width, then the counter, fixed
// width; only digits, letters, '.' and '-', safe as a file name.
func makeID(t time.Time, seq uint64) string {
	b := make([]byte, 0, 48)
	b = t.UTC().AppendFormat(b, "20060102T150405.000000000Z")
	b = append(b, '-')
	n := strconv.AppendUint(nil, seq, 10)
	for i := len(n); i < 10; i++ {
		b = append(b, '0')
	}
	return string(append(b, n...))
}

// uniqueMailboxes validates names and returns them without duplicates, in
// a new slice so the caller's backing array is not shared.
func uniqueMailboxes(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if err := ValidMailbox(n); err != nil {
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// Mailbox returns the messages in memory for the mailbox name, oldest
// first, as a new slice. The messages are shared: do not change them.
func (s *Store) Mailbox(name string) []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mailboxes[name])
}

// Mailboxes returns the names of the mailboxes that hold messages in
// memory, sorted.
func (s *Store) Mailboxes() []string {
	s.mu.Lock()
	names := make([]string, 0, len(s.mailboxes))
	for n := range s.mailboxes {
		names = append(names, n)
	}
	s.mu.Unlock()
	sort.Strings(names)
	return names
}

// Relayed returns the relayed messages in memory, oldest first, as a new
// slice. The messages are shared: do not change them.
func (s *Store) Relayed() []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.relayed)
}

// Count returns how many messages were delivered since the store was made,
// each counted once however many mailboxes it went to, including those
// since dropped from memory.
func (s *Store) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered
}

// Held returns how many messages and bytes of message data are in memory.
func (s *Store) Held() (messages int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held), s.heldBytes
}

// Dropped returns how many messages were dropped from memory to stay
// within the bounds.
func (s *Store) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Maildir returns the Maildir root, "" for a memory-only store.
func (s *Store) Maildir() string {
	if s.maildir == nil {
		return ""
	}
	return s.maildir.root
}

// Close waits for deliveries in flight and makes later ones fail with
// ErrClosed. Every delivered message is already durable, so there is
// nothing to flush; the messages stay readable in memory.
func (s *Store) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	s.closed = true
	return nil
}
