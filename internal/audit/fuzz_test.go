package audit

import (
	"strings"
	"testing"
)

// FuzzMatchSignatures: any replies (from the network) give either
// "unknown" or a product scoring at least minScore, with evidence, and
// classify never panics.
func FuzzMatchSignatures(f *testing.F) {
	f.Add("220 mail ESMTP Postfix", "500 5.5.2 Error: command not recognized", "503 5.5.1 Error: need MAIL command")
	f.Add("220 host ESMTP Exim 4.96", "500 unrecognized command", "503 sender not yet given")
	f.Add("220 x", "250 OK", "250 OK")
	f.Add("", "\x1b[31m", "502 unimplemented (#5.5.1)")
	f.Fuzz(func(t *testing.T, banner, unknown, rcpt string) {
		code := func(s string) int {
			n := 0
			for i := 0; i < len(s) && i < 3 && s[i] >= '0' && s[i] <= '9'; i++ {
				n = n*10 + int(s[i]-'0')
			}
			return n
		}
		fp := &Fingerprint{Probes: map[string]Exchange{}}
		for probe, s := range map[string]string{ProbeBanner: banner, ProbeUnknown: unknown, ProbeRcptFirst: rcpt, ProbeHelp: unknown} {
			fp.Probes[probe] = Exchange{Command: probe, Code: code(s), Reply: strings.Split(s, "\n")}
		}
		matchSignatures(fp)
		if fp.Product != ProductUnknown && (fp.Score < minScore || len(fp.Evidence) == 0) {
			t.Fatalf("%s with score %d and %d evidence", fp.Product, fp.Score, len(fp.Evidence))
		}
		if fp.Product == ProductUnknown && fp.Reason == "" {
			t.Fatal("unknown without a reason")
		}
		classify(fp.Probes[ProbeUnknown])
	})
}
