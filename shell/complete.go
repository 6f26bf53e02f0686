package shell

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// Complete returns the completions of head, the text before the cursor, in
// the current state: each is head with something appended, never changed.
// Verbs legal in the phase come first; extensions only when the server
// advertised them; MAIL and RCPT parameters likewise; addresses already
// used in the session; meta-commands after ":". Keywords take the case the
// user was typing in.
func (s *Session) Complete(head string) []string {
	suffixes, _ := s.complete(head)
	out := make([]string, len(suffixes))
	for i, suf := range suffixes {
		out[i] = head + suf
	}
	return out
}

// complete returns what may follow head, and the length in bytes of the
// word being completed (the part of head the suffixes continue).
func (s *Session) complete(head string) (suffixes []string, wordLen int) {
	s.mu.Lock()
	st := s.st
	st.addrs = append([]string(nil), s.st.addrs...)
	s.mu.Unlock()
	if st.phase == PhaseData || st.sasl || st.phase == PhaseClosed {
		return nil, 0 // message text and SASL responses are the user's own
	}
	trimmed := strings.TrimLeft(head, " \t")
	if strings.HasPrefix(trimmed, ":") {
		name, arg, ok := strings.Cut(trimmed, " ")
		if !ok {
			return keywordSuffixes(trimmed, s.metaNames()), len(trimmed)
		}
		return s.metaArgSuffixes(strings.ToLower(name), arg, &st)
	}
	sp := strings.IndexAny(trimmed, " ")
	if sp < 0 {
		return keywordSuffixes(trimmed, s.verbCompletions(&st)), len(trimmed)
	}
	verb := smtp.Verb(strings.ToUpper(trimmed[:sp]))
	rest := trimmed[sp+1:]
	word := rest[strings.LastIndexAny(rest, " ")+1:]
	words := strings.Fields(rest)
	if word != "" {
		words = words[:len(words)-1] // the words before the one being typed
	}
	var cands []string
	switch verb {
	case smtp.EHLO, smtp.HELO, smtp.LHLO:
		if len(words) == 0 && s.cfg.EHLOName != "" {
			return plainSuffixes(word, []string{s.cfg.EHLOName}), len(word)
		}
	case smtp.AUTH:
		if len(words) == 0 && st.ehlo {
			cands = st.caps.AuthMechanisms()
		}
	case smtp.MAIL, smtp.RCPT:
		return mailRcptSuffixes(verb, word, words, &st), len(word)
	case smtp.VRFY, smtp.EXPN:
		if len(words) == 0 {
			return plainSuffixes(word, st.addrs), len(word)
		}
	}
	return keywordSuffixes(word, cands), len(word)
}

// verbCompletions lists verbs as completed: legal ones first, then the
// other RFC 5321 verbs (forcing one is allowed, with a warning), never an
// extension the server did not advertise nor an obsolete RFC 821 verb.
// MAIL and RCPT come with "FROM:<" and "TO:<"; verbs with arguments with
// a space.
func (s *Session) verbCompletions(st *state) []string {
	seen := map[smtp.Verb]bool{}
	var out []string
	add := func(v smtp.Verb) {
		if seen[v] {
			return
		}
		seen[v] = true
		switch v {
		case smtp.MAIL:
			out = append(out, "MAIL FROM:<")
		case smtp.RCPT:
			out = append(out, "RCPT TO:<")
		case smtp.DATA, smtp.RSET, smtp.QUIT, smtp.STARTTLS, smtp.NOOP, smtp.HELP:
			out = append(out, string(v))
		default:
			out = append(out, string(v)+" ")
		}
	}
	for _, v := range legalVerbs(st.phase, st) {
		add(v)
	}
	for _, v := range []smtp.Verb{smtp.EHLO, smtp.HELO, smtp.MAIL, smtp.RCPT, smtp.DATA, smtp.RSET, smtp.VRFY, smtp.EXPN, smtp.HELP, smtp.NOOP, smtp.QUIT} {
		add(v)
	}
	return out
}

// mailRcptSuffixes completes the arguments of MAIL and RCPT: "FROM:<" or
// "TO:<", then an address used before, then the parameters of the
// extensions the server advertised (RFC 1870 SIZE, RFC 6152 8BITMIME,
// RFC 3030 BINARYMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN, RFC 8689
// REQUIRETLS, RFC 4954 §5 AUTH=).
func mailRcptSuffixes(verb smtp.Verb, word string, before []string, st *state) []string {
	kw := "FROM:"
	if verb == smtp.RCPT {
		kw = "TO:"
	}
	uw := strings.ToUpper(word)
	switch {
	case len(before) == 0 && strings.HasPrefix(kw, uw) && uw != kw:
		return keywordSuffixes(word, []string{kw + "<"})
	case len(before) == 0 && strings.HasPrefix(uw, kw):
		// "FROM:<al" → an address; the part after the colon is the user's.
		return addressSuffixes(word[len(kw):], st.addrs)
	case len(before) == 1 && strings.EqualFold(before[0], kw):
		// "MAIL FROM: <al", the course-notes form with a space.
		return addressSuffixes(word, st.addrs)
	}
	if !st.ehlo {
		return nil
	}
	var params []string
	has := st.caps.Has
	if verb == smtp.MAIL {
		if has("SIZE") {
			params = append(params, "SIZE=")
		}
		params = append(params, "BODY=7BIT")
		if has("8BITMIME") {
			params = append(params, "BODY=8BITMIME")
		}
		if has("BINARYMIME") {
			params = append(params, "BODY=BINARYMIME")
		}
		if has("SMTPUTF8") {
			params = append(params, "SMTPUTF8")
		}
		if has("DSN") {
			params = append(params, "RET=FULL", "RET=HDRS", "ENVID=")
		}
		if has("REQUIRETLS") {
			params = append(params, "REQUIRETLS")
		}
		if has("AUTH") {
			params = append(params, "AUTH=<>")
		}
	} else if has("DSN") {
		params = append(params, "NOTIFY=SUCCESS", "NOTIFY=FAILURE", "NOTIFY=DELAY", "NOTIFY=NEVER", "ORCPT=rfc822;")
	}
	return keywordSuffixes(word, params)
}

// addressSuffixes completes "<" and an address used before, then ">".
func addressSuffixes(typed string, addrs []string) []string {
	var cands []string
	for _, a := range addrs {
		cands = append(cands, "<"+a+">")
	}
	if typed == "" && len(cands) == 0 {
		return []string{"<"}
	}
	return plainSuffixes(typed, cands)
}

// plainSuffixes returns what completes typed to each candidate that starts
// with it (ignoring case), keeping the candidate's own case: addresses and
// names are data, not keywords.
func plainSuffixes(typed string, cands []string) []string {
	var out []string
	for _, c := range cands {
		if len(c) > len(typed) && strings.EqualFold(c[:len(typed)], typed) {
			out = append(out, c[len(typed):])
		}
	}
	return out
}

// keywordSuffixes is plainSuffixes for keywords: the suffix takes the case
// of the last letter typed, so "ma" completes to "mail from:<", "MA" to
// "MAIL FROM:<" and ":auth CR" to ":auth CRAM-MD5" (verbs and keywords are
// case-insensitive, RFC 5321 §2.4); with no letter typed, the candidate's.
func keywordSuffixes(typed string, cands []string) []string {
	lower, upper := false, false
	for _, r := range typed {
		if unicode.IsLetter(r) {
			lower, upper = unicode.IsLower(r), unicode.IsUpper(r)
		}
	}
	out := plainSuffixes(typed, cands)
	for i, s := range out {
		switch {
		case lower:
			out[i] = strings.ToLower(s)
		case upper:
			out[i] = strings.ToUpper(s)
		}
	}
	return out
}

// metaArgSuffixes completes the arguments of a meta-command: the
// mechanisms :auth speaks (advertised ones first), --bdat, on|off, the
// last reply's codes for :explain, and file paths for :send and :save.
func (s *Session) metaArgSuffixes(name, arg string, st *state) ([]string, int) {
	word := arg[strings.LastIndexAny(arg, " \t")+1:]
	words := strings.Fields(arg)
	if word != "" {
		words = words[:len(words)-1]
	}
	switch name {
	case ":auth":
		if len(words) == 0 {
			return keywordSuffixes(word, authMechCompletions(st)), len(word)
		}
	case ":raw":
		if len(words) == 0 {
			return keywordSuffixes(word, []string{"on", "off"}), len(word)
		}
	case ":compose":
		if len(words) == 0 && st.ehlo && st.caps.Has("CHUNKING") {
			return plainSuffixes(word, []string{"--bdat"}), len(word)
		}
	case ":explain":
		if len(words) == 0 {
			return plainSuffixes(word, s.lastCodes()), len(word)
		}
	case ":send":
		if len(words) == 0 && strings.HasPrefix(word, "-") {
			return plainSuffixes(word, []string{"--bdat"}), len(word)
		}
		if len(words) == 0 || len(words) == 1 && words[0] == "--bdat" {
			return pathSuffixes(word), len(word)
		}
	case ":save":
		if len(words) == 0 {
			return pathSuffixes(word), len(word)
		}
	case ":enum", ":relaytest", ":smuggle", ":fingerprint":
		if len(words) > 0 && words[len(words)-1] == "--method" {
			return keywordSuffixes(word, []string{"auto", "vrfy", "expn", "rcpt"}), len(word)
		}
		if strings.HasPrefix(word, "-") {
			flags := map[string][]string{
				":enum":        {"--method", "--domain", "--yes"},
				":relaytest":   {"--send", "--domain", "--yes"},
				":smuggle":     {"--i-own-this-server", "--yes"},
				":fingerprint": {"--yes"},
			}[name]
			return plainSuffixes(word, flags), len(word)
		}
		if name == ":enum" {
			return plainSuffixes(word, st.addrs), len(word)
		}
	}
	return nil, len(word)
}

// authMechCompletions lists the mechanisms :auth speaks, the advertised
// ones first (RFC 4954 §3), in lower case as :help shows them.
func authMechCompletions(st *state) []string {
	spoken := strings.Split(saslMechanisms, "|")
	if !st.ehlo {
		return spoken
	}
	var first, rest []string
	adv := st.caps.AuthMechanisms()
	for _, m := range spoken {
		found := false
		for _, a := range adv {
			if strings.EqualFold(a, m) {
				found = true
			}
		}
		if found {
			first = append(first, m)
		} else {
			rest = append(rest, m)
		}
	}
	return append(first, rest...)
}

// lastCodes returns the last reply's code and enhanced code, for :explain.
// It runs on the completer's goroutine, so it reads only under the lock
// what the session stored there.
func (s *Session) lastCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.st.lastCodes...)
}

// maxPathCompletions bounds the names offered for one directory.
const maxPathCompletions = 200

// pathSuffixes completes a file path: the entries of its directory that
// start with its last element, directories with a "/". Hidden entries
// only when the element starts with ".".
func pathSuffixes(typed string) []string {
	dir, base := filepath.Split(typed)
	d := dir
	if d == "" {
		d = "."
	}
	if strings.HasPrefix(d, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			d = filepath.Join(home, d[2:])
		}
	}
	entries, err := os.ReadDir(d)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, base) || strings.HasPrefix(n, ".") && !strings.HasPrefix(base, ".") {
			continue
		}
		suf := n[len(base):]
		if e.IsDir() {
			suf += "/"
		}
		out = append(out, suf)
		if len(out) == maxPathCompletions {
			break
		}
	}
	sort.Strings(out)
	return out
}
