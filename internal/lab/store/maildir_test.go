package store

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// dirNames lists a directory, sorted; a missing directory lists nothing.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// uniqueName is the spec's modern form, with our hostname escaped.
var uniqueName = regexp.MustCompile(`^[0-9]+\.M[0-9]+P[0-9]+Q[0-9]+R[0-9a-f]{12}\.lab\\072smtpsh\\057test$`)

// TestMaildirLayout reads the Maildir back and checks the rules of
// https://cr.yp.to/proto/maildir.html that mutt relies on.
func TestMaildirLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "mail")
	s, err := NewWithOptions(Options{Maildir: root, Hostname: "lab:smtpsh/test"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Maildir() != root {
		t.Errorf("Maildir() = %q", s.Maildir())
	}
	team := msg("bob@lab.smtpsh.test", "alice", "bob")
	team.Data = []byte("Received: from x\r\nSubject: team\r\n\r\nline one\r\n.dot kept unstuffed\r\nbare\rCR kept\r\nlast\r\n")
	relay := msg("spammer@example.net", "bob")
	relay.Relayed = true
	if err := s.Deliver(team); err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(relay); err != nil {
		t.Fatal(err)
	}

	if got := dirNames(t, root); strings.Join(got, " ") != ".relayed alice bob" {
		t.Errorf("root holds %q, want .relayed alice bob", got)
	}
	wantNew := map[string]int{"alice": 1, "bob": 2, RelayedDir: 1}
	files := map[string][]string{}
	for box, n := range wantNew {
		dir := filepath.Join(root, box)
		for _, sub := range []string{"tmp", "new", "cur"} {
			fi, err := os.Stat(filepath.Join(dir, sub))
			if err != nil || !fi.IsDir() {
				t.Fatalf("%s/%s: %v", box, sub, err)
			}
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("%s/%s mode %v, want 0700", box, sub, fi.Mode().Perm())
			}
		}
		if tmp := dirNames(t, filepath.Join(dir, "tmp")); len(tmp) != 0 {
			t.Errorf("%s/tmp not empty after delivery: %q", box, tmp)
		}
		if cur := dirNames(t, filepath.Join(dir, "cur")); len(cur) != 0 {
			t.Errorf("%s/cur: a new message belongs in new/, found %q", box, cur)
		}
		names := dirNames(t, filepath.Join(dir, "new"))
		if len(names) != n {
			t.Fatalf("%s/new holds %d files, want %d", box, len(names), n)
		}
		for _, name := range names {
			// No ":2,<flags>" info in new/; the reader adds it when it
			// moves the message to cur/.
			if !uniqueName.MatchString(name) {
				t.Errorf("%s/new/%s: not a spec unique name (or carries an info part)", box, name)
			}
			fi, err := os.Stat(filepath.Join(dir, "new", name))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
			}
		}
		files[box] = names
	}

	alice := filepath.Join(root, "alice", "new", files["alice"][0])
	got, err := os.ReadFile(alice)
	if err != nil {
		t.Fatal(err)
	}
	want := "Received: from x\nSubject: team\n\nline one\n.dot kept unstuffed\nbare\rCR kept\nlast\n"
	if string(got) != want {
		t.Errorf("alice's file:\n%q\nwant\n%q", got, want)
	}
	// mbox's "From " separator would show up as a bogus header in mutt.
	if bytes.HasPrefix(got, []byte("From ")) {
		t.Error("file starts with an mbox From_ line")
	}
	// One message for two mailboxes: the same file in both.
	bobTeam := filepath.Join(root, "bob", "new", files["alice"][0])
	a, _ := os.Stat(alice)
	b, err := os.Stat(bobTeam)
	if err != nil {
		t.Fatalf("bob lacks the team message under the same name: %v", err)
	}
	if !os.SameFile(a, b) {
		t.Error("the team message is not hard-linked between alice and bob")
	}
	relayed, _ := os.ReadFile(filepath.Join(root, RelayedDir, "new", files[RelayedDir][0]))
	if !bytes.Contains(relayed, []byte("From: spammer@example.net\n")) {
		t.Errorf("relayed file: %q", relayed)
	}
}

func TestMaildirRefusesBadDirectories(t *testing.T) {
	tests := []struct {
		name  string
		plant func(t *testing.T, root string)
	}{
		{"mailbox is a file", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, "bob"), []byte("x"), 0o600)
		}},
		{"new is a symlink out of the root", func(t *testing.T, root string) {
			os.MkdirAll(filepath.Join(root, "bob", "tmp"), 0o700)
			os.Symlink(t.TempDir(), filepath.Join(root, "bob", "new"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tt.plant(t, root)
			s, err := New(root)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Deliver(msg("a@b", "alice", "bob")); err == nil {
				t.Fatal("Deliver succeeded")
			}
			if s.Count() != 0 || len(s.Mailbox("alice")) != 0 {
				t.Error("a message the disk refused is in memory")
			}
			if n := dirNames(t, filepath.Join(root, "alice", "new")); len(n) != 0 {
				t.Errorf("alice/new holds %q after a failed delivery", n)
			}
		})
	}
	t.Run("root is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o600)
		if _, err := New(f); err == nil {
			t.Fatal("New on a file succeeded")
		}
	})
}

func TestToLF(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"CRLF lines", "a\r\nb\r\n", "a\nb\n"},
		{"no line end", "abc", "abc"},
		{"bare LF kept", "a\nb", "a\nb"},
		{"bare CR kept", "a\rb\r\n", "a\rb\n"},
		{"CR before CRLF", "a\r\r\n", "a\r\n"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(toLF([]byte(tt.in))); got != tt.want {
				t.Errorf("toLF(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
