package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// publicPcaps is where the third-party captures and tshark's decode of
// each (FILE.txt, made by tshark 4.0.17) live; they exist in CI.
const publicPcaps = "../../../shared/pcaps/public"

func publicPcap(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(publicPcaps, rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("public capture missing: %v", err)
	}
	return p
}

// tsharkRows returns the tab-separated rows of the section of a tshark
// decode whose heading starts with "## "+heading, without its header row.
func tsharkRows(t *testing.T, decode, heading string) [][]string {
	t.Helper()
	b, err := os.ReadFile(decode)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	in, header := false, false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "## "+heading):
			in, header = true, true
		case in && strings.HasPrefix(l, "## tshark"):
		case in && strings.HasPrefix(l, "## "):
			return rows
		case in && header && strings.Contains(l, "\t"):
			header = false // the field names
		case in && strings.Contains(l, "\t"):
			rows = append(rows, strings.Split(l, "\t"))
		}
	}
	return rows
}

// runOut runs smtpsh with args and returns stdout alone, and stderr.
func runOut(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

// TestCaptureCredsMatchTshark: the credentials `smtpsh capture --creds`
// finds are those tshark decodes with smtp.decryption on, conversation by
// conversation (smtpsh numbers conversations as tshark's tcp.stream, from
// 1).
func TestCaptureCredsMatchTshark(t *testing.T) {
	for _, rel := range []string{
		"whinc+PcapAnalyzer/data/smtp.pcap",
		"whinc+PcapAnalyzer/data/http_ftp_smtp_bt.pcap",
		"zeek+zeek/testing/btest/Traces/smtp.pcap",
	} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			p := publicPcap(t, rel)
			type cred struct{ user, pass string }
			want := map[int]cred{}
			for _, r := range tsharkRows(t, p+".txt", "SMTP AUTH fields") {
				stream, err := strconv.Atoi(r[1])
				if err != nil || len(r) < 4 {
					t.Fatalf("tshark row %q", r)
				}
				c := want[stream+1]
				if r[2] != "" {
					c.user = r[2]
				}
				if r[3] != "" {
					c.pass = r[3]
				}
				want[stream+1] = c
			}
			if len(want) == 0 {
				t.Fatal("tshark's decode lists no credentials: the test would prove nothing")
			}
			out, _, err := runOut(t, "capture", "--creds", "--json", p)
			if err != nil {
				t.Fatal(err)
			}
			got := map[int]cred{}
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				var c credLine
				if err := json.Unmarshal([]byte(l), &c); err != nil {
					t.Fatalf("%v: %q", err, l)
				}
				got[c.Conv] = cred{c.User, c.Password}
			}
			if len(got) != len(want) {
				t.Errorf("%d credentials, tshark %d", len(got), len(want))
			}
			for id, w := range want {
				if got[id] != w {
					t.Errorf("conversation %d: got %+v, tshark %+v", id, got[id], w)
				}
			}
		})
	}
}

// TestCaptureConversationsMatchTshark: the SMTP conversations of the
// summary and the JSON view are the TCP streams tshark decodes as SMTP,
// with as many RCPT commands each.
func TestCaptureConversationsMatchTshark(t *testing.T) {
	for _, rel := range []string{
		"whinc+PcapAnalyzer/data/http_ftp_smtp_bt.pcap",
		"zeek+zeek/testing/btest/Traces/smtp.pcap",
		"zeek+zeek/testing/btest/Traces/smtp-multi-addr.pcap",
	} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			p := publicPcap(t, rel)
			wantRcpt := map[int]int{}
			for _, r := range tsharkRows(t, p+".txt", "SMTP requests/responses") {
				stream, err := strconv.Atoi(r[1])
				if err != nil {
					t.Fatalf("tshark row %q", r)
				}
				wantRcpt[stream+1] += 0
				// Pipelined commands in one frame come as "RCPT,DATA".
				for _, c := range strings.Split(r[2], ",") {
					if strings.EqualFold(c, "RCPT") {
						wantRcpt[stream+1]++
					}
				}
			}
			out, _, err := runOut(t, "capture", "--json", p)
			if err != nil {
				t.Fatal(err)
			}
			gotRcpt := map[int]int{}
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				var c convJSON
				if err := json.Unmarshal([]byte(l), &c); err != nil {
					t.Fatalf("%v: %q", err, l)
				}
				gotRcpt[c.ID] += 0
				for _, e := range c.Exchanges {
					if v, _, _ := strings.Cut(e.Line, " "); strings.EqualFold(v, "RCPT") {
						gotRcpt[c.ID]++
					}
				}
			}
			ids := func(m map[int]int) []int {
				var s []int
				for k := range m {
					s = append(s, k)
				}
				slices.Sort(s)
				return s
			}
			if !slices.Equal(ids(gotRcpt), ids(wantRcpt)) {
				t.Fatalf("conversations %v, tshark's SMTP streams (+1) %v", ids(gotRcpt), ids(wantRcpt))
			}
			for id, n := range wantRcpt {
				if gotRcpt[id] != n {
					t.Errorf("conversation %d: %d RCPT, tshark %d", id, gotRcpt[id], n)
				}
			}
			sum, _, err := runOut(t, "capture", "--summary", p)
			if err != nil {
				t.Fatal(err)
			}
			if rows := strings.Count(strings.TrimSpace(sum), "\n"); rows != len(wantRcpt) {
				t.Errorf("summary has %d rows, want %d:\n%s", rows, len(wantRcpt), sum)
			}
		})
	}
}

// TestCaptureExtract: --extract writes each message as an .eml file that
// is a valid RFC 5322 message of the size the JSON view reports, and the
// text view never shows the AUTH secrets that --creds shows.
func TestCaptureExtract(t *testing.T) {
	p := publicPcap(t, "zeek+zeek/testing/btest/Traces/smtp.pcap")
	dir := t.TempDir()
	out, _, err := runOut(t, "capture", "--extract", dir, "--save", dir, p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "cHVuamFiQDEyMw==") || !strings.Contains(out, "<redacted>") {
		t.Errorf("the text view shows the AUTH LOGIN password:\n%s", out)
	}
	js, _, err := runOut(t, "capture", "--json", p)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(js), "\n") {
		var c convJSON
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatal(err)
		}
		for i, tx := range c.Transactions {
			if tx.Size == 0 {
				continue
			}
			n++
			b, err := os.ReadFile(filepath.Join(dir, "conv-"+strconv.Itoa(c.ID)+"-"+strconv.Itoa(i+1)+".eml"))
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(b)) != tx.Size {
				t.Errorf("conversation %d message %d: %d bytes on disk, %d in the JSON view", c.ID, i+1, len(b), tx.Size)
			}
			if _, err := mail.ReadMessage(bytes.NewReader(b)); err != nil {
				t.Errorf("conversation %d message %d: %v", c.ID, i+1, err)
			}
		}
		// --save wrote a transcript that replay plays.
		rep, _, err := runOut(t, "replay", "--all", "--no-explain", filepath.Join(dir, "conv-"+strconv.Itoa(c.ID)+".txt"))
		if err != nil {
			t.Fatalf("replay of the saved conversation %d: %v", c.ID, err)
		}
		if !strings.Contains(rep, "C: "+c.Exchanges[0].Line) {
			t.Errorf("replay of conversation %d lacks its first command %q:\n%s", c.ID, c.Exchanges[0].Line, rep)
		}
	}
	if n != 2 {
		t.Errorf("%d messages extracted; tshark's IMF section lists 2", n)
	}
}

// TestReplayCapture: `smtpsh replay FILE.pcap` plays a captured
// conversation with the shell's rendering; --conv picks one.
func TestReplayCapture(t *testing.T) {
	p := publicPcap(t, "zeek+zeek/testing/btest/Traces/smtp.pcap")
	out, errOut, err := runOut(t, "replay", "--all", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "holds 2 SMTP conversations; replaying conversation 1") {
		t.Errorf("stderr: %q", errOut)
	}
	for _, w := range []string{"C: EHLO GP", "S: 235 Authentication succeeded", "C: <redacted>", "↳ "} {
		if !strings.Contains(out, w) {
			t.Errorf("replay lacks %q:\n%s", w, out)
		}
	}
	out, _, err = runOut(t, "replay", "--all", "--conv", "3", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "C: RCPT TO:<ericlim220@yahoo.com>") {
		t.Errorf("--conv 3:\n%s", out)
	}
	if _, _, err := runOut(t, "replay", "--conv", "2", p); err == nil || !strings.Contains(err.Error(), "no SMTP conversation 2") {
		t.Errorf("--conv 2 (the port-443 flow): err = %v", err)
	}
}

// TestCaptureBadFile: a truncated capture and a file that is no capture
// get a clear error naming the file; what was decoded before the damage is
// printed.
func TestCaptureBadFile(t *testing.T) {
	src, err := os.ReadFile(publicPcap(t, "whinc+PcapAnalyzer/data/smtp.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.pcap")
	if err := os.WriteFile(cut, src[:len(src)/2+7], 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runOut(t, "capture", "--summary", cut)
	if err == nil || !strings.Contains(err.Error(), "cut.pcap") {
		t.Errorf("truncated capture: err = %v", err)
	}
	if rows := strings.Count(out, "\n"); rows < 10 {
		t.Errorf("only %d lines decoded before the damage:\n%s", rows, out)
	}
	junk := filepath.Join(dir, "junk.pcap")
	if err := os.WriteFile(junk, []byte("this is not a capture\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runOut(t, "capture", junk); err == nil || !strings.Contains(err.Error(), "junk.pcap") {
		t.Errorf("junk: err = %v", err)
	}
	if _, _, err := runOut(t, "capture"); err == nil {
		t.Error("no file: no error")
	}
}

// TestCaptureTunnel: a conversation through an HTTP CONNECT proxy is shown
// with the target the CONNECT named (read here from the capture's own
// bytes) as its server and the proxy as via.
func TestCaptureTunnel(t *testing.T) {
	p := publicPcap(t, "zeek+zeek/testing/btest/Traces/http/connect-with-smtp.pcap")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(raw, []byte("CONNECT "))
	if i < 0 {
		t.Fatal("no CONNECT request in the capture")
	}
	target := strings.Fields(string(raw[i : i+200]))[1]
	out, _, err := runOut(t, "capture", "--json", p)
	if err != nil {
		t.Fatal(err)
	}
	var c convJSON
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &c); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if c.Server != target || !strings.HasPrefix(c.Via, "http://") || !strings.HasSuffix(c.Via, ":8240") {
		t.Errorf("server %q via %q, want %q via the proxy on 8240", c.Server, c.Via, target)
	}
	if len(c.Transactions) != 1 || c.ResultCode != 250 {
		t.Errorf("transactions %+v, result %d", c.Transactions, c.ResultCode)
	}
}
