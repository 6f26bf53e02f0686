package store

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxNameLen is the longest mailbox name: a directory name on most file
// systems (NAME_MAX) is at most 255 bytes.
const MaxNameLen = 255

// NameError says why a mailbox name was refused.
type NameError struct {
	Name   string
	Column int // 1-based byte column of the offending byte, 0 if none
	Reason string
}

func (e *NameError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("store: mailbox name %q: %s at column %d", e.Name, e.Reason, e.Column)
	}
	return fmt.Sprintf("store: mailbox name %q: %s", e.Name, e.Reason)
}

// ValidMailbox reports whether name can be a mailbox: it becomes a
// directory under the Maildir root, so it must stay one path element inside
// it. It refuses the empty name, names over MaxNameLen bytes, names
// starting with '.' (".", "..", and dot-files, which also keeps ".relayed"
// free), '/', '\\', NUL and other control bytes, and invalid UTF-8 (RFC 6531
// §3.3 local parts are UTF-8). The lab's users, aliases and lists
// (alice, bob, root, postmaster, team) all pass.
func ValidMailbox(name string) error {
	if err := checkName(name); err != nil {
		var ne *NameError
		if errors.As(err, &ne) {
			ne.Name = name
		}
		return err
	}
	return nil
}

// checkName applies the mailbox name rules; they also make a safe ID.
func checkName(name string) error {
	switch {
	case name == "":
		return &NameError{Name: name, Reason: "empty"}
	case len(name) > MaxNameLen:
		return &NameError{Name: name, Reason: fmt.Sprintf("%d bytes, more than %d", len(name), MaxNameLen)}
	case name[0] == '.':
		return &NameError{Name: name, Column: 1, Reason: "starts with '.' (dot-files and .. are reserved)"}
	}
	for i := 0; i < len(name); {
		c := name[i]
		switch {
		case c == '/' || c == '\\':
			return &NameError{Name: name, Column: i + 1, Reason: fmt.Sprintf("path separator %q", c)}
		case c < 0x20 || c == 0x7f:
			return &NameError{Name: name, Column: i + 1, Reason: fmt.Sprintf("control byte %#02x", c)}
		case c < utf8.RuneSelf:
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && n <= 1 {
			return &NameError{Name: name, Column: i + 1, Reason: "invalid UTF-8"}
		}
		i += n
	}
	return nil
}
