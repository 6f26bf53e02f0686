package shell

import (
	"bytes"
	"strings"
	"testing"
)

// memoryLines is Lines with messages in memory, as `smtpsh send` gives
// them to :send.
type memoryLines struct {
	LineReader
	msgs map[string][]byte
}

func (m memoryLines) Message(name string) ([]byte, bool) {
	b, ok := m.msgs[name]
	return b, ok
}

// TestSendMessageSource: :send NAME takes the input's message of that name
// before any file, and a name the input does not hold is still a file.
func TestSendMessageSource(t *testing.T) {
	const msg = "From: <a@example.org>\r\nSubject: from memory\r\n\r\n.leading dot\r\n"
	tests := []struct {
		name    string
		send    string
		msgs    map[string][]byte
		want    string
		deliver bool
	}{
		{name: "in memory, DATA", send: ":send <message>", msgs: map[string][]byte{"<message>": []byte(msg)}, want: "S: 250 2.0.0 Ok: queued", deliver: true},
		{name: "in memory, BDAT", send: ":send --bdat <message>", msgs: map[string][]byte{"<message>": []byte(msg)}, want: " LAST", deliver: true},
		{name: "empty message", send: ":send <message>", msgs: map[string][]byte{"<message>": nil}, want: "message <message>: empty"},
		{name: "not held: a file", send: ":send testdata/messages/none.eml", msgs: map[string][]byte{"<message>": []byte(msg)}, want: "message file: open testdata/messages/none.eml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, st := startLab(t, "default")
			kb, err := kbOnce()
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(Config{Addr: addr, KB: kb})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			in := memoryLines{LineReader: Lines(&out, "EHLO client.example", "MAIL FROM:<a@example.org>", "RCPT TO:<alice@lab.smtpsh.test>", tc.send), msgs: tc.msgs}
			_ = s.Run(t.Context(), in)
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out.String())
			}
			msgs := st.Mailbox("alice")
			if !tc.deliver {
				if len(msgs) != 0 {
					t.Errorf("%d message(s) delivered, want none", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("delivered %d message(s), want 1\n%s", len(msgs), out.String())
			}
			if !bytes.HasSuffix(msgs[0].Data, []byte("Subject: from memory\r\n\r\n.leading dot\r\n")) {
				t.Errorf("delivered %q", msgs[0].Data)
			}
		})
	}
}
