package store

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzValidMailbox checks that every name ValidMailbox accepts stays one
// path element inside the Maildir root, whatever the client typed.
func FuzzValidMailbox(f *testing.F) {
	for _, s := range []string{"alice", "../x", "/", "a\x00b", ".relayed", "..", "Jürgen", `a\b`, "a/b", "\xff"} {
		f.Add(s)
	}
	const root = "/var/mail/lab"
	f.Fuzz(func(t *testing.T, name string) {
		if ValidMailbox(name) != nil {
			return
		}
		p := filepath.Join(root, name)
		if filepath.Dir(p) != root || filepath.Base(p) != name {
			t.Fatalf("accepted %q, which leaves the root: %s", name, p)
		}
		if strings.HasPrefix(name, ".") || strings.ContainsAny(name, "/\\\x00") {
			t.Fatalf("accepted %q", name)
		}
	})
}

// FuzzToLF checks the CRLF to LF conversion of Maildir files: it never
// grows the message, and for a message whose every LF ends a CRLF (what
// the lab's DATA reader produces) turning LF back into CRLF restores it.
func FuzzToLF(f *testing.F) {
	for _, s := range []string{"a\r\nb\r\n", "a\r\r\n", "\r\n\r\n.\r\n", "bare\nlf", "x\r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := toLF(in)
		if len(out) > len(in) || bytes.Count(out, []byte("\n")) != bytes.Count(in, []byte("\n")) {
			t.Fatalf("toLF(%q) = %q", in, out)
		}
		if bytes.Count(in, []byte("\n")) == bytes.Count(in, []byte("\r\n")) {
			if back := bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n")); !bytes.Equal(back, in) {
				t.Fatalf("toLF(%q) = %q does not round-trip: %q", in, out, back)
			}
		}
	})
}
