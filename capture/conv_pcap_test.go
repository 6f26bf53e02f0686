package capture

import (
	"bufio"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// convPublicDir holds third-party captures with tshark 4.0's decode beside
// each (see its SOURCES.md).
const convPublicDir = "../../shared/pcaps/public"

// tsharkDecode is what a capture's .txt says, per tcp.stream.
type tsharkDecode struct {
	requests map[int][]string // "VERB param", verb upper-cased
	codes    map[int][]int    // every reply code, in order
	users    []string         // "-z credentials" user names, base64 as tshark prints them
	messages map[int][]int    // smtp.data.reassembled.length per message
}

func readTshark(t *testing.T, path string) tsharkDecode {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	td := tsharkDecode{requests: map[int][]string{}, codes: map[int][]int{}, messages: map[int][]int{}}
	section := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "## ") {
			if !strings.HasPrefix(l, "## tshark") {
				section = l[3:]
			}
			continue
		}
		fields := strings.Split(l, "\t")
		switch {
		case section == "SMTP requests/responses" && len(fields) >= 5 && fields[0] != "frame.number":
			stream, err := strconv.Atoi(fields[1])
			if err != nil {
				continue
			}
			// Several commands in one frame come as comma-separated
			// values ("RCPT,DATA" with "To:<a@b>"): the parameters pair
			// with the first commands, DATA having none.
			cmds, params := strings.Split(fields[2], ","), strings.Split(fields[3], ",")
			if len(cmds) == 1 {
				params = []string{fields[3]}
			}
			for i, cmd := range cmds {
				if cmd == "" {
					continue
				}
				param := ""
				if i < len(params) {
					param = params[i]
				}
				req := strings.TrimSpace(strings.ToUpper(cmd) + " " + param)
				if req == "STAR TLS" {
					// tshark 4.0 splits STARTTLS into "STAR" and "TLS"
					// (issue 6); the capture's bytes say "STARTTLS".
					req = "STARTTLS"
				}
				td.requests[stream] = append(td.requests[stream], req)
			}
			for _, c := range strings.Split(fields[4], ",") {
				if n, err := strconv.Atoi(c); err == nil {
					td.codes[stream] = append(td.codes[stream], n)
				}
			}
		case section == "credentials (default preferences: AUTH parameters left base64)":
			if w := strings.Fields(l); len(w) >= 3 && w[1] == "SMTP" {
				td.users = append(td.users, w[2])
			}
		case strings.HasPrefix(section, "reassembled messages") && len(fields) >= 3 && fields[0] != "frame.number":
			stream, err1 := strconv.Atoi(fields[1])
			n, err2 := strconv.Atoi(fields[2])
			if err1 == nil && err2 == nil {
				td.messages[stream] = append(td.messages[stream], n)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return td
}

// tsharkWrong names the captures where tshark 4.0's decode is wrong, and
// how; there the test checks the capture's own evidence instead.
var tsharkWrong = map[string]string{
	// The pipelined MAIL/RCPT/BDAT segments are not labelled: tshark
	// misses BDAT whose chunk shares the command's segment, and with it
	// the commands before it. Its own replies ("250,250" for MAIL and
	// RCPT, then the chunk's) show the commands were there.
	"smtp-bdat-pipeline-8bitmime.pcap": "pipelined commands with a BDAT chunk in their segment are not labelled",
	// The chunk sizes that do not parse (or with a stray CR) are not
	// labelled as BDAT; the server's 521 is the evidence of a command.
	"smtp-bdat-cmd-chunk-size-overflow.pcap":  "unparsable BDAT not labelled",
	"smtp-bdat-cmd-chunk-size-overflow2.pcap": "unparsable BDAT not labelled",
	"smtp-bdat-cmd-negative-chunk-size.pcap":  "unparsable BDAT not labelled",
	"smtp-bdat-cmd-invalid.pcapng":            "unparsable BDAT not labelled",
	// After the hole in the BDAT chunk tshark reads DATA and QUIT as
	// chunk bytes; the server's 354 and 221 show they were commands.
	"smtp-bdat-gap.pcap": "commands after a gap in a BDAT chunk read as data",
	// After DATA is refused with 503 the client sends its text anyway;
	// tshark reads it as a message, the server answers each line "500
	// unrecognized command" (checked below): they were commands.
	"smtp-mail-transactions-invalid.pcap": "lines after a DATA refused with 503 read as a message",
}

// tsharkMessages are the captures whose messages tshark counts wrongly,
// with the sizes the capture's replies support.
var tsharkMessages = map[string][]int{
	// Only the two DATA commands answered 354 carry a message.
	"smtp-mail-transactions-invalid.pcap": {18, 39},
}

// tsharkCodes are the captures whose reply codes tshark counts wrongly,
// with the codes the capture's bytes show (tshark -z follow,tcp,raw).
var tsharkCodes = map[string]struct {
	why  string
	want []int
}{
	// The server's "250-localhost" and "250 CHUNKING" are one multi-line
	// reply (RFC 5321 §4.2.1) in two segments; tshark counts two.
	"rfc3030-bdat-nonascii.pcap": {"a multi-line reply split over two segments counted twice", []int{220, 250, 250, 250, 250, 250, 250, 221}},
}

// tsharkShort are the captures whose messages tshark measures 2 bytes
// short: the body ends with a bare LF and the CRLF that ends the last
// (empty) line arrives in the segment with "." ("\r\n.\r\n"); tshark
// leaves that segment out, but RFC 5321 §4.1.1.4 makes its first CRLF
// the end of the message's last line, and DotReader keeps it.
//
// sizeFix gives, per capture and tcp.stream, the size the capture's bytes
// support where tshark's differs.
var sizeFix = map[string]map[int]int{
	"zeek+zeek/testing/btest/Traces/smtp.pcap": {
		// tshark says 15156, more than the 14705 bytes the client sent
		// in the whole connection (tshark -z follow,tcp,raw,0); between
		// DATA's line and CRLF.CRLF there are 14546 bytes, one of them a
		// stuffed dot.
		0: 14545,
		// As for tsharkShort: the last CRLF is in the "." segment.
		2: 804,
	},
}

var tsharkShort = map[string]bool{"whinc+PcapAnalyzer/data/smtp.pcap": true, "whinc+PcapAnalyzer/data/http_ftp_smtp_bt.pcap": true}

func convPublicCaptures(t *testing.T) []string {
	var files []string
	err := filepath.WalkDir(convPublicDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !strings.HasSuffix(path, ".txt") && !strings.HasSuffix(path, ".md") {
			if _, err := os.Stat(path + ".txt"); err == nil {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil || len(files) == 0 {
		t.Skipf("no public captures in %s: %v", convPublicDir, err)
	}
	return files
}

// TestConvPublicCaptures decodes every public capture and compares, per TCP
// stream, the commands and reply codes, the AUTH user names and the
// messages with tshark 4.0's decode beside it.
func TestConvPublicCaptures(t *testing.T) {
	for _, path := range convPublicCaptures(t) {
		name := filepath.Base(path)
		rel, _ := filepath.Rel(convPublicDir, path)
		t.Run(rel, func(t *testing.T) {
			td := readTshark(t, path+".txt")
			var mu sync.Mutex
			convs := map[int]*Conversation{}
			h := &ConversationHandler{Options: DecoderOptions{KeepTranscript: true, KeepMessages: true},
				Done: func(c *Conversation) { mu.Lock(); convs[c.Info.ID-1] = c; mu.Unlock() }}
			if _, err := Decode(context.Background(), []string{path}, h, Options{}); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			wrong, isWrong := tsharkWrong[name]
			var users []string
			for stream, want := range td.codes {
				conv := convs[stream]
				if conv == nil {
					t.Errorf("tcp.stream %d: tshark decodes SMTP, we have no conversation", stream)
					continue
				}
				if fix, ok := tsharkCodes[name]; ok {
					if slices.Equal(fix.want, want) {
						t.Errorf("tshark is listed as wrong (%s) but agrees", fix.why)
					}
					want = fix.want
				}
				if got := replyCodes(conv.Transcript); !slices.Equal(got, want) {
					t.Errorf("stream %d reply codes\n got %v\nwant %v", stream, got, want)
				}
				got := requests(conv)
				switch {
				case !isWrong:
					if !slices.Equal(got, td.requests[stream]) {
						t.Errorf("stream %d requests\n got %q\nwant %q", stream, got, td.requests[stream])
					}
				case !isSubsequence(td.requests[stream], got):
					t.Errorf("stream %d (tshark: %s): tshark's requests %q are not among ours %q", stream, wrong, td.requests[stream], got)
				default:
					for _, e := range conv.Exchanges {
						if e.Verb != "" && !e.Verb.Known() && !slices.Equal(e.Codes, []int{500}) {
							t.Errorf("stream %d: %q, which tshark does not list as a command, was answered %v, not 500", stream, e.Line, e.Codes)
						}
					}
				}
				for _, cr := range conv.Creds {
					if cr.Mechanism == "LOGIN" || cr.Mechanism == "PLAIN" {
						users = append(users, base64.StdEncoding.EncodeToString([]byte(cr.User)))
					}
				}
				var sizes []int
				for _, m := range conv.Messages {
					if !m.Complete && m.GapBytes == 0 {
						t.Errorf("stream %d: message %d incomplete", stream, m.Index)
					}
					n := int(m.Size)
					if tsharkShort[filepath.ToSlash(rel)] {
						if !strings.HasSuffix(string(m.Data), "\n\r\n") {
							t.Errorf("stream %d: message %d does not end in a bare LF then CRLF", stream, m.Index)
						}
						n -= 2
					}
					sizes = append(sizes, n)
				}
				want := td.messages[stream]
				if fix, ok := tsharkMessages[name]; ok {
					want = fix
				}
				if n, ok := sizeFix[filepath.ToSlash(rel)][stream]; ok {
					if slices.Equal(sizes, want) {
						t.Errorf("stream %d: tshark's size is listed as wrong but agrees", stream)
					}
					want = []int{n}
				}
				if len(want) > 0 && !slices.Equal(sizes, want) {
					t.Errorf("stream %d message sizes %v, tshark's %v", stream, sizes, want)
				}
			}
			slices.Sort(users)
			slices.Sort(td.users)
			if !slices.Equal(users, td.users) {
				t.Errorf("credentials: users %q, tshark's %q", users, td.users)
			}
		})
	}
}

// replyCodes lists the code of every reply in the transcript.
func replyCodes(tr *transcripts.Transcript) []int {
	var out []int
	for _, e := range tr.Events {
		if e.Kind != transcripts.Server {
			continue
		}
		if rl, err := smtp.ParseReplyLine(e.Text); err == nil && !rl.More {
			out = append(out, rl.Code)
		} else if code, more, ok := replyCode([]byte(e.Text)); ok && !more {
			out = append(out, code)
		}
	}
	return out
}

// requests lists the commands as tshark prints them: "VERB param".
func requests(conv *Conversation) []string {
	var out []string
	for _, e := range conv.Exchanges {
		if e.Verb == "" || e.Line == "." {
			continue
		}
		v, rest := smtp.SplitVerb(e.Line)
		out = append(out, strings.TrimSpace(string(v)+" "+rest))
	}
	return out
}

func isSubsequence(sub, seq []string) bool {
	i := 0
	for _, s := range seq {
		if i < len(sub) && s == sub[i] {
			i++
		}
	}
	return i == len(sub)
}
