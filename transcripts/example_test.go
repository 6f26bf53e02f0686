package transcripts_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/smtpsh/smtpsh/transcripts"
)

func ExampleWrite() {
	start := time.Date(2026, 11, 25, 19, 10, 0, 0, time.UTC)
	t := &transcripts.Transcript{Server: "127.0.0.1:2525", Client: "127.0.0.1:51234", Started: start}
	t.AddServer(start.Add(4*time.Millisecond), "220 lab.smtpsh.test ESMTP smtpsh-lab")
	t.AddClient(start.Add(1510*time.Millisecond), "AUTH PLAIN AHN0dWRlbnQAaHVudGVyMg==")
	t.AddServer(start.Add(1512*time.Millisecond), "235 2.7.0 Authentication successful")
	t.AddServer(start.Add(2*time.Second), "221 Bye\r\n\x1b[2J")
	// Secrets are redacted unless WriteOptions.Secrets is set.
	if err := transcripts.Write(os.Stdout, t, transcripts.WriteOptions{Times: true}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// # smtpsh transcript v1
	// # server: 127.0.0.1:2525  client: 127.0.0.1:51234  started: 2026-11-25T19:10:00Z
	// [+0.004s] S: 220 lab.smtpsh.test ESMTP smtpsh-lab
	// [+1.510s] C: AUTH PLAIN <redacted>
	// [+1.512s] S: 235 2.7.0 Authentication successful
	// [+2.000s] S:"221 Bye\r\n\x1b[2J"
}

func ExampleParse() {
	t, err := transcripts.Parse(strings.NewReader(`# smtpsh transcript v1
S: 220 mx.example.com ESMTP Postfix
C: AUTH PLAIN <redacted>
*: close server
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range t.Events {
		fmt.Printf("%-6s %q redacted=%v\n", e.Kind, e.Text, e.Redacted)
	}
	// Output:
	// server "220 mx.example.com ESMTP Postfix" redacted=false
	// client "AUTH PLAIN <redacted>" redacted=true
	// close  "" redacted=false
}

func ExampleParseError() {
	_, err := transcripts.Parse(strings.NewReader("# smtpsh transcript v1\nC:NOOP\n"))
	fmt.Println(err)
	// Output:
	// transcript: line 2, column 3: expected a space or a quote after "C:"
}
