package capture

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// fuzzSegments interleaves the two streams in pieces chosen by seed, with
// a gap now and then: the order a capture could deliver them in.
func fuzzSegments(client, server []byte, seed uint64) []step {
	r := rand.New(rand.NewPCG(seed, seed>>7))
	var out []step
	for len(client) > 0 || len(server) > 0 {
		dir, src := ClientToServer, &client
		if len(client) == 0 || len(server) > 0 && r.IntN(2) == 0 {
			dir, src = ServerToClient, &server
		}
		n := min(len(*src), 1+r.IntN(64))
		if r.IntN(40) == 0 {
			out = append(out, step{dir: dir, gap: int64(n)})
		} else {
			out = append(out, step{dir: dir, data: string((*src)[:n])})
		}
		*src = (*src)[n:]
	}
	return out
}

func runSteps(info ConnInfo, opts DecoderOptions, steps []step, bytewise bool) *Conversation {
	d := NewDecoder(info, opts, nil)
	at := info.Start
	for _, st := range steps {
		at = at.Add(time.Millisecond)
		switch {
		case st.gap > 0:
			d.Gap(st.dir, at, st.gap)
		case bytewise:
			for i := 0; i < len(st.data); i++ {
				d.Data(st.dir, at, []byte{st.data[i]})
			}
		default:
			d.Data(st.dir, at, []byte(st.data))
		}
	}
	d.End(at, "end of capture")
	return d.Conversation()
}

// FuzzConv feeds both directions of a conversation, interleaved and split
// as seed says. Invariants: no panic; the transcript is valid and reads
// back; messages hold no more than the client sent; and the decode does
// not depend on how each direction's bytes are split into calls.
func FuzzConv(f *testing.F) {
	f.Add([]byte("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\n..hi\r\n.\r\nQUIT\r\n"),
		[]byte("220 mx ESMTP\r\n250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n"), uint64(1))
	f.Add([]byte("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 5\r\nhelloBDAT 0 LAST\r\nQUIT\r\n"),
		[]byte("220 mx\r\n250 CHUNKING\r\n250 ok\r\n250 ok\r\n250 5\r\n250 queued\r\n221 bye\r\n"), uint64(2))
	f.Add([]byte("EHLO c\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nSTARTTLS\r\n\x16\x03\x01junk"),
		[]byte("220 mx\r\n250 AUTH LOGIN\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n220 go\r\n\x16\x03\x03"), uint64(3))
	f.Add([]byte("LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\nx\n.\r\n.\r\n"),
		[]byte("220 lmtp\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n452 full\r\n"), uint64(4))
	f.Add([]byte("\x00\xff\r\n\n\n.\r\nAUTH CRAM-MD5\r\n*\r\nDATA\r\n"), []byte("220-\r\n999 x\r\n334 \r\n501\r\n503 no\r\n"), uint64(5))
	f.Fuzz(func(t *testing.T, client, server []byte, seed uint64) {
		if len(client)+len(server) > 1<<16 {
			return
		}
		opts := DecoderOptions{KeepTranscript: true, KeepData: true, KeepMessages: true, MaxHold: 300, MaxEvents: 5000}
		info := testInfo(25)
		steps := fuzzSegments(client, server, seed)
		conv := runSteps(info, opts, steps, false)
		var b bytes.Buffer
		if err := transcripts.Write(&b, conv.Transcript, transcripts.WriteOptions{Secrets: true}); err != nil {
			t.Fatalf("transcript does not write: %v", err)
		}
		back, err := transcripts.Parse(&b)
		if err != nil {
			t.Fatalf("transcript does not read back: %v", err)
		}
		if len(back.Events) != len(conv.Transcript.Events) {
			t.Fatalf("read back %d events, wrote %d", len(back.Events), len(conv.Transcript.Events))
		}
		var msgBytes int64
		for _, m := range conv.Messages {
			if int64(len(m.Data)) != m.Size && !m.Truncated {
				t.Fatalf("message %d keeps %d bytes of %d", m.Index, len(m.Data), m.Size)
			}
			msgBytes += m.Size
		}
		if msgBytes > int64(len(client)) {
			t.Fatalf("messages hold %d bytes, the client sent %d", msgBytes, len(client))
		}
		// Same interleaving, each call split into single bytes: the same
		// conversation (warnings aside: they count bytes held).
		conv2 := runSteps(info, opts, steps, true)
		if !sameDecode(conv, conv2) {
			t.Fatalf("decode depends on how the bytes are split:\n%q\n%q", exchangeCodes(conv), exchangeCodes(conv2))
		}
	})
}

func sameDecode(a, b *Conversation) bool {
	ea, eb := exchangeCodes(a), exchangeCodes(b)
	if len(ea) != len(eb) || len(a.Messages) != len(b.Messages) || len(a.Creds) != len(b.Creds) || a.Result != b.Result || a.TLS != b.TLS {
		return false
	}
	for i := range ea {
		if ea[i] != eb[i] {
			return false
		}
	}
	for i := range a.Messages {
		if !bytes.Equal(a.Messages[i].Data, b.Messages[i].Data) || a.Messages[i].Complete != b.Messages[i].Complete {
			return false
		}
	}
	return true
}

// FuzzConvData checks the DATA scanner against internal/smtp's DotReader:
// where the reader finds the end of the data, the decoder finds the same
// end and the same message, however the text is split.
func FuzzConvData(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\n..dot\r\n.\r\n"), uint64(1))
	f.Add([]byte("a\n.\r\nb\r\n.\nc\r.\rd\r\n.\r\r\n.\r\n"), uint64(2))
	f.Add([]byte(".\r\n"), uint64(3))
	f.Add([]byte("\r\n.\r\n"), uint64(4))
	f.Fuzz(func(t *testing.T, body []byte, seed uint64) {
		if len(body) > 1<<16 {
			return
		}
		dr := smtp.NewDotReader(bufio.NewReader(bytes.NewReader(body)), &smtp.DotOptions{MaxLineLength: 1 << 30})
		want, err := io.ReadAll(dr)
		ended := err == nil
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Skip(err)
		}
		prelude := "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
		client := append([]byte(prelude), body...)
		r := rand.New(rand.NewPCG(seed, 1))
		steps := []step{s("220 mx\r\n"), c(prelude), s("250 ok\r\n250 ok\r\n354 go\r\n")}
		rest := client[len(prelude):]
		for len(rest) > 0 {
			n := min(len(rest), 1+r.IntN(32))
			steps = append(steps, c(string(rest[:n])))
			rest = rest[n:]
		}
		opts := DecoderOptions{KeepMessages: true, MaxLine: 256}
		conv := runSteps(testInfo(25), opts, steps, false)
		if len(conv.Messages) != 1 {
			t.Fatalf("%d messages", len(conv.Messages))
		}
		m := conv.Messages[0]
		if m.Complete != ended {
			t.Fatalf("complete = %v, DotReader ended = %v", m.Complete, ended)
		}
		if ended && !bytes.Equal(m.Data, want) {
			t.Fatalf("message\n got %q\nwant %q", m.Data, want)
		}
	})
}
