package audit

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/transcripts"
)

// benchProbes are a fingerprint's replies as three kinds of server send
// them: Postfix 3.7 as postfix-lab.sh runs it, Exim 4.96 with its
// defaults, and a server that answers 250 to everything.
func benchProbes() map[string]map[string][]string {
	return map[string]map[string][]string{
		"postfix": {
			ProbeBanner: {"220 smtpsh-lab.local ESMTP smtpsh-lab (Postfix)"},
			ProbeEHLO: {"250-smtpsh-lab.local", "250-PIPELINING", "250-SIZE 52428800", "250-VRFY", "250-ETRN", "250-STARTTLS",
				"250-AUTH PLAIN LOGIN", "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"},
			ProbeHelp:       {"502 5.5.2 Error: command not recognized"},
			ProbeUnknown:    {"502 5.5.2 Error: command not recognized"},
			ProbeMailSyntax: {"501 5.1.7 Bad sender address syntax"},
			ProbeRcptFirst:  {"503 5.5.1 Error: need MAIL command"},
			ProbeNoopArg:    {"250 2.0.0 Ok"},
			ProbeVrfyEmpty:  {"501 5.5.4 Syntax: VRFY address [SMTPUTF8]"},
		},
		"exim": {
			ProbeBanner:     {"220 mx.example.org ESMTP Exim 4.96 Tue, 25 Nov 2026 19:10:00 +0000"},
			ProbeEHLO:       {"250-mx.example.org Hello audit.smtpsh.invalid [192.0.2.1]", "250-SIZE 52428800", "250-8BITMIME", "250-PIPELINING", "250-PIPE_CONNECT", "250-CHUNKING", "250-STARTTLS", "250 HELP"},
			ProbeHelp:       {"214-Commands supported:", "214 AUTH STARTTLS HELO EHLO MAIL RCPT DATA BDAT NOOP QUIT RSET HELP"},
			ProbeUnknown:    {"500 unrecognized command"},
			ProbeMailSyntax: {"501 <smtpsh-probe: missing or malformed local part (expected word or \"<\")"},
			ProbeRcptFirst:  {"503 sender not yet given"},
			ProbeNoopArg:    {"250 OK"},
			ProbeVrfyEmpty:  {"501 VRFY must have an address argument"},
		},
		"250 to everything": {
			ProbeBanner: {"220 fake ESMTP"}, ProbeEHLO: {"250 OK"}, ProbeHelp: {"250 OK"}, ProbeUnknown: {"250 OK"},
			ProbeMailSyntax: {"250 OK"}, ProbeRcptFirst: {"250 OK"}, ProbeNoopArg: {"250 OK"}, ProbeVrfyEmpty: {"250 OK"},
		},
	}
}

// BenchmarkMatchSignatures scores one fingerprint's replies against every
// signature; MB/s is reply text matched.
func BenchmarkMatchSignatures(b *testing.B) {
	probes := benchProbes()
	for _, name := range slices.Sorted(maps.Keys(probes)) {
		replies := probes[name]
		b.Run(strings.ReplaceAll(name, " ", "-"), func(b *testing.B) {
			fp := &Fingerprint{Probes: map[string]Exchange{}}
			size := 0
			for probe, lines := range replies {
				fp.Probes[probe] = Exchange{Command: probe, Code: 250, Reply: lines}
				for _, l := range lines {
					size += len(l) + 2
				}
			}
			matchSignatures(fp) // compile the signatures outside the timing
			want := fp.Product
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				matchSignatures(fp)
			}
			if fp.Product != want {
				b.Fatalf("%s then %s", want, fp.Product)
			}
		})
	}
}

// BenchmarkProbeRoundTripLab is one probe (NOOP) and its reply on an open
// connection to the lab on loopback, with the transcript and pacing the
// checks use; MB/s is command and reply bytes.
func BenchmarkProbeRoundTripLab(b *testing.B) {
	addr := startLab(b, "default")
	a, err := New(Config{Addr: addr, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	c, err := a.open(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer c.quit(ctx)
	ex, err := c.cmd(ctx, "NOOP")
	if err != nil || ex.Code != 250 {
		b.Fatalf("NOOP: %v %v", ex, err)
	}
	size := len("NOOP\r\n")
	for _, l := range ex.Reply {
		size += len(l) + 2
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if ex, err := c.cmd(ctx, "NOOP"); err != nil || ex.Code != 250 {
			b.Fatalf("NOOP: %v %v", ex, err)
		}
	}
}

// BenchmarkFingerprintLab is a whole fingerprint of the lab: connect,
// greeting, EHLO, six probes, QUIT.
func BenchmarkFingerprintLab(b *testing.B) {
	addr := startLab(b, "default")
	a, err := New(Config{Addr: addr, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.Fingerprint(ctx); err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, e := range a.Transcripts()[0].Events {
		if e.Kind == transcripts.Client || e.Kind == transcripts.Server {
			size += len(e.Text) + 2
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		fp, err := a.Fingerprint(ctx)
		if err != nil || fp.Product != ProductLab {
			b.Fatalf("fingerprint: %v %v", fp.Product, err)
		}
		// Every iteration records its transcript, as the first 64 would.
		a.transcripts = a.transcripts[:0]
	}
}
