package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// msg builds a message like the lab's: a Received: header prepended to
// what the client sent, CRLF line ends.
func msg(from string, boxes ...string) *Message {
	return &Message{
		From:      from,
		To:        []string{"alice@lab.smtpsh.test"},
		Mailboxes: boxes,
		Params:    map[string]string{"BODY": "8BITMIME"},
		Data: []byte("Received: from student.example ([127.0.0.1])\r\n\tby lab.smtpsh.test with ESMTP id 1; Wed, 25 Nov 2026 20:00:00 +0000\r\n" +
			"From: " + from + "\r\nSubject: hello\r\n\r\nHello, " + strings.Join(boxes, " and ") + ".\r\n"),
		Remote: "127.0.0.1:51234",
	}
}

func ids(ms []*Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestDeliverMemory(t *testing.T) {
	s, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// RCPT TO:<alice> and RCPT TO:<postmaster> both reach alice; the list
	// team reaches alice and bob: one copy per mailbox.
	m1 := msg("bob@lab.smtpsh.test", "alice")
	m2 := msg("", "alice", "bob", "alice")
	m3 := msg("spammer@example.net")
	m3.Relayed = true
	m3.To = []string{"victim@example.org"}
	m4 := msg("alice@lab.smtpsh.test", "bob")
	m4.Relayed = true
	for _, m := range []*Message{m1, m2, m3, m4} {
		if err := s.Deliver(m); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
	}
	tests := []struct {
		name string
		got  []*Message
		want []*Message
	}{
		{"alice", s.Mailbox("alice"), []*Message{m1, m2}},
		{"bob", s.Mailbox("bob"), []*Message{m2, m4}},
		{"relayed", s.Relayed(), []*Message{m3, m4}},
		{"unknown mailbox", s.Mailbox("carol"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !slices.Equal(tt.got, tt.want) {
				t.Errorf("got %v, want %v", ids(tt.got), ids(tt.want))
			}
		})
	}
	if got := s.Count(); got != 4 {
		t.Errorf("Count = %d, want 4", got)
	}
	if got := s.Mailboxes(); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("Mailboxes = %q", got)
	}
	if !slices.Equal(m2.Mailboxes, []string{"alice", "bob"}) {
		t.Errorf("duplicate mailbox kept: %q", m2.Mailboxes)
	}
	all := []string{m1.ID, m2.ID, m3.ID, m4.ID}
	if !slices.IsSorted(all) {
		t.Errorf("IDs not sorted in delivery order: %q", all)
	}
	if len(slices.Compact(slices.Clone(all))) != 4 {
		t.Errorf("IDs not unique: %q", all)
	}
	for _, m := range []*Message{m1, m2, m3, m4} {
		if err := ValidMailbox(m.ID); err != nil {
			t.Errorf("ID %q is not safe as a file name: %v", m.ID, err)
		}
		if m.Received.IsZero() || time.Since(m.Received) > time.Minute {
			t.Errorf("Received = %v, want now", m.Received)
		}
	}
	// The slice handed out is a copy: changing it leaves the store alone.
	got := s.Mailbox("alice")
	got[0] = nil
	if s.Mailbox("alice")[0] != m1 {
		t.Error("Mailbox returned the store's own slice")
	}
}

func TestDeliverKeepsCallerFields(t *testing.T) {
	s, _ := New("")
	when := time.Date(2026, 11, 25, 19, 10, 0, 0, time.UTC)
	m := msg("a@b", "alice")
	m.ID = "my-id-1"
	m.Received = when
	if err := s.Deliver(m); err != nil {
		t.Fatal(err)
	}
	if m.ID != "my-id-1" || !m.Received.Equal(when) {
		t.Errorf("Deliver replaced caller's ID/Received: %q %v", m.ID, m.Received)
	}
}

func TestDeliverRejects(t *testing.T) {
	tests := []struct {
		name string
		m    *Message
		want string
	}{
		{"nil message", nil, "nil message"},
		{"no mailbox, not relayed", msg("a@b"), "would be lost"},
		{"path traversal", msg("a@b", "../x"), `"../x"`},
		{"absolute path", msg("a@b", "/"), "path separator"},
		{"slash inside", msg("a@b", "alice/../../etc"), "path separator '/' at column 6"},
		{"NUL", msg("a@b", "alice\x00"), "control byte 0x00 at column 6"},
		{"dot-file", msg("a@b", ".hidden"), "starts with '.'"},
		{"the relayed directory", msg("a@b", RelayedDir), "starts with '.'"},
		{"dot dot", msg("a@b", ".."), "starts with '.'"},
		{"empty name", msg("a@b", "alice", ""), "empty"},
		{"backslash", msg("a@b", `a\b`), "path separator"},
		{"newline", msg("a@b", "a\nb"), "control byte 0x0a"},
		{"invalid UTF-8", msg("a@b", "j\xfcrgen"), "invalid UTF-8 at column 2"},
		{"too long", msg("a@b", strings.Repeat("a", MaxNameLen+1)), "more than 255"},
		{"unsafe ID", &Message{ID: "../../id", Mailboxes: []string{"alice"}}, "message ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			s, err := New(root)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Deliver(tt.m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Deliver error = %v, want one containing %q", err, tt.want)
			}
			if s.Count() != 0 || len(s.Mailbox("alice")) != 0 {
				t.Error("a refused message was stored")
			}
			if names := dirNames(t, root); len(names) != 0 {
				t.Errorf("a refused message created %q under the Maildir root", names)
			}
		})
	}
}

func TestValidMailbox(t *testing.T) {
	// The lab's directory (issue 3) and local parts seen in real mail.
	for _, ok := range []string{"alice", "bob", "root", "admin", "postmaster", "team",
		"first.last", "user+tag", "Jürgen", "用户", "MAILER-DAEMON", "a..b", "x:y"} {
		if err := ValidMailbox(ok); err != nil {
			t.Errorf("ValidMailbox(%q) = %v, want nil", ok, err)
		}
	}
	var ne *NameError
	err := ValidMailbox("bad/name")
	if !errors.As(err, &ne) || ne.Column != 4 || ne.Name != "bad/name" {
		t.Errorf("ValidMailbox(bad/name) = %#v, want a *NameError at column 4", err)
	}
}

func TestEvict(t *testing.T) {
	var logged []string
	s, err := NewWithOptions(Options{MaxMessages: 3, MaxBytes: -1, Logf: func(f string, a ...any) {
		logged = append(logged, fmt.Sprintf(f, a...))
	}})
	if err != nil {
		t.Fatal(err)
	}
	var ms []*Message
	for i, boxes := range [][]string{{"alice"}, {"alice", "bob"}, {"bob"}, {"alice"}, {"bob"}} {
		m := msg("a@b", boxes...)
		m.Relayed = i%2 == 0
		if err := s.Deliver(m); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if got, want := s.Mailbox("alice"), []*Message{ms[3]}; !slices.Equal(got, want) {
		t.Errorf("alice = %v, want %v", ids(got), ids(want))
	}
	if got, want := s.Mailbox("bob"), []*Message{ms[2], ms[4]}; !slices.Equal(got, want) {
		t.Errorf("bob = %v, want %v", ids(got), ids(want))
	}
	if got, want := s.Relayed(), []*Message{ms[2], ms[4]}; !slices.Equal(got, want) {
		t.Errorf("relayed = %v, want %v", ids(got), ids(want))
	}
	if n, _ := s.Held(); n != 3 || s.Dropped() != 2 || s.Count() != 5 {
		t.Errorf("held %d, dropped %d, count %d; want 3, 2, 5", n, s.Dropped(), s.Count())
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "at most 3 messages") {
		t.Errorf("Logf calls = %q, want one naming the bound", logged)
	}

	t.Run("by bytes", func(t *testing.T) {
		s, _ := NewWithOptions(Options{MaxMessages: -1, MaxBytes: 10})
		for _, data := range []string{"1234", "5678", "9abc", strings.Repeat("x", 50)} {
			if err := s.Deliver(&Message{Mailboxes: []string{"alice"}, Data: []byte(data)}); err != nil {
				t.Fatal(err)
			}
			if n, b := s.Held(); data == "9abc" && (n != 2 || b != 8) {
				t.Errorf("after 3 messages of 4 bytes, under 10: held %d messages, %d bytes; want 2, 8", n, b)
			}
		}
		// The newest is kept even though it alone is over the bound.
		if n, b := s.Held(); n != 1 || b != 50 {
			t.Errorf("held %d messages, %d bytes; want the newest: 1, 50", n, b)
		}
		if got := s.Mailbox("alice"); len(got) != 1 || len(got[0].Data) != 50 {
			t.Errorf("alice holds %d messages", len(got))
		}
	})
	t.Run("defaults", func(t *testing.T) {
		s, _ := New("")
		if s.maxMsgs != DefaultMaxMessages || s.maxData != DefaultMaxBytes {
			t.Errorf("New bounds %d, %d", s.maxMsgs, s.maxData)
		}
	})
}

func TestDeliverConcurrent(t *testing.T) {
	for _, mode := range []string{"memory", "maildir"} {
		t.Run(mode, func(t *testing.T) {
			dir := ""
			if mode == "maildir" {
				dir = t.TempDir()
			}
			s, err := NewWithOptions(Options{Maildir: dir, MaxMessages: -1, MaxBytes: -1})
			if err != nil {
				t.Fatal(err)
			}
			const workers, each = 8, 50
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						m := msg(fmt.Sprintf("w%d@example.com", w), "alice")
						if i%2 == 0 {
							m.Mailboxes = append(m.Mailboxes, "bob")
						}
						m.Relayed = i%5 == 0
						if err := s.Deliver(m); err != nil {
							t.Error(err)
							return
						}
						_ = s.Mailbox("alice") // readers run alongside writers
					}
				}()
			}
			wg.Wait()
			alice, bob, relayed := s.Mailbox("alice"), s.Mailbox("bob"), s.Relayed()
			if len(alice) != workers*each || len(bob) != workers*each/2 || len(relayed) != workers*each/5 || s.Count() != workers*each {
				t.Fatalf("alice %d, bob %d, relayed %d, count %d", len(alice), len(bob), len(relayed), s.Count())
			}
			seen := map[string]bool{}
			for _, m := range alice {
				if seen[m.ID] {
					t.Fatalf("duplicate ID %s", m.ID)
				}
				seen[m.ID] = true
			}
			if mode == "memory" && !slices.IsSorted(ids(alice)) {
				t.Error("memory delivery order differs from ID order")
			}
			if mode == "maildir" {
				if n := len(dirNames(t, dir+"/alice/new")); n != workers*each {
					t.Errorf("alice/new holds %d files, want %d", n, workers*each)
				}
				if n := len(dirNames(t, dir+"/"+RelayedDir+"/new")); n != workers*each/5 {
					t.Errorf(".relayed/new holds %d files, want %d", n, workers*each/5)
				}
			}
		})
	}
}

func TestClose(t *testing.T) {
	s, _ := New("")
	if err := s.Deliver(msg("a@b", "alice")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(msg("a@b", "alice")); !errors.Is(err, ErrClosed) {
		t.Errorf("Deliver after Close = %v, want ErrClosed", err)
	}
	if len(s.Mailbox("alice")) != 1 {
		t.Error("messages not readable after Close")
	}
}

func TestMakeIDSorts(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 999_999_999, time.UTC)
	tests := []struct {
		name string
		a, b string
	}{
		{"counter grows past a digit", makeID(t0, 9), makeID(t0, 10)},
		{"next second beats a higher counter", makeID(t0, 99), makeID(t0.Add(time.Nanosecond), 1)},
		{"zone does not matter", makeID(t0.In(time.FixedZone("X", 5*3600)), 1), makeID(t0, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !(tt.a < tt.b) {
				t.Errorf("%q should sort before %q", tt.a, tt.b)
			}
		})
	}
	if got, want := makeID(t0, 7), "20261125T200000.999999999Z-0000000007"; got != want {
		t.Errorf("makeID = %q, want %q", got, want)
	}
}
