package audit

import (
	"regexp"
	"sync"
)

// Product names a fingerprint can give.
const (
	ProductPostfix   = "Postfix"
	ProductExim      = "Exim"
	ProductSendmail  = "Sendmail"
	ProductExchange  = "Microsoft Exchange"
	ProductOpenSMTPD = "OpenSMTPD"
	ProductQmail     = "qmail"
	ProductHaraka    = "Haraka"
	ProductLab       = "smtpsh lab"
	ProductUnknown   = "unknown"
)

// The probes of a fingerprint. Each is harmless: none starts a
// transaction that could deliver anything.
const (
	ProbeBanner     = "banner"      // the 220 greeting
	ProbeEHLO       = "ehlo"        // the EHLO reply: name line, keywords, their order
	ProbeHelp       = "help"        // HELP
	ProbeUnknown    = "unknown"     // a command no server knows
	ProbeMailSyntax = "mail-syntax" // MAIL with an unterminated path
	ProbeRcptFirst  = "rcpt-first"  // RCPT before MAIL (RFC 5321 §4.1.4: 503)
	ProbeNoopArg    = "noop-arg"    // NOOP with an argument (RFC 5321 §4.1.1.9 allows one)
	ProbeVrfyEmpty  = "vrfy-empty"  // VRFY without its argument
)

// fingerprintProbes are the commands sent, in order, after EHLO.
var fingerprintProbes = [...]struct{ probe, command string }{
	{ProbeHelp, "HELP"},
	{ProbeUnknown, nonsenseCommand},
	{ProbeMailSyntax, "MAIL FROM:<smtpsh-probe"},
	{ProbeRcptFirst, "RCPT TO:<postmaster>"},
	{ProbeNoopArg, "NOOP smtpsh"},
	{ProbeVrfyEmpty, "VRFY"},
}

// rule is one piece of a server's wording: a regular expression matched,
// case-insensitively, against each line of the reply to probe.
type rule struct {
	probe   string
	pattern string
	weight  int
	source  string // where the wording comes from
}

// signature is one product's rules.
type signature struct {
	product string
	rules   []rule
}

// Source files the wordings were taken from. The strings are the servers'
// own; the weights are ours: 3 for wording only that product uses, 2 for
// wording a few share, 1 for a hint.
const (
	srcPostfix   = "Postfix src/smtpd/smtpd.c (NetBSD/src external/ibm-public/postfix/dist/src/smtpd/smtpd.c) and Postfix 3.7.11 as postfix-lab.sh runs it"
	srcExim      = "Exim src/src/smtp_in.c (smtp_banner default, \"sender not yet given\", HELP list)"
	srcSendmail  = "Sendmail sendmail/srvrsmtp.c (freebsd/freebsd-src contrib/sendmail/src/srvrsmtp.c)"
	srcExchange  = "Microsoft Exchange transport replies as servers send them (500 5.3.3, X-ANONYMOUSTLS, XEXCH50)"
	srcOpenSMTPD = "OpenSMTPD usr.sbin/smtpd/smtp_session.c, as servers send it (\"500 5.5.1 Invalid command: Command unrecognized\", HELP \"This is OpenSMTPD\")"
	srcQmail     = "qmail-smtpd.c (notqmail/notqmail qmail-smtpd.c: err_unimpl, err_wantmail, err_vrfy, smtp_help)"
	srcHaraka    = "Haraka connection.js (haraka/Haraka) and its documented EHLO reply"
	srcLab       = "smtpsh internal/lab/commands.go (help, syntaxError)"
)

// signatureTable returns the signatures, compiled once.
var signatureTable = sync.OnceValue(func() []compiledSignature {
	sigs := []signature{
		{ProductPostfix, []rule{
			{ProbeBanner, `ESMTP Postfix|\(Postfix\)`, 3, srcPostfix},
			{ProbeHelp, `^50[02] 5\.5\.2 Error: command not recognized`, 3, srcPostfix + ": Postfix has no HELP"},
			{ProbeUnknown, `^50[02] 5\.5\.2 Error: command not recognized`, 2, srcPostfix},
			{ProbeMailSyntax, `^501 5\.1\.7 Bad sender address syntax`, 2, srcPostfix},
			{ProbeRcptFirst, `^503 5\.5\.1 Error: need MAIL command`, 2, srcPostfix},
			{ProbeVrfyEmpty, `^501 5\.5\.4 Syntax: VRFY address( \[SMTPUTF8\])?$`, 2, srcPostfix},
			{ProbeEHLO, `^250[- ]ETRN$`, 1, srcPostfix + ": ETRN advertised by default"},
		}},
		{ProductExim, []rule{
			{ProbeBanner, `ESMTP Exim`, 3, srcExim},
			{ProbeHelp, `^214-Commands supported:`, 3, srcExim},
			{ProbeUnknown, `^500 unrecognized command`, 2, srcExim},
			{ProbeRcptFirst, `^503 sender not yet given`, 3, srcExim},
			{ProbeEHLO, `^250[- ](HELP|PIPE_CONNECT)$`, 1, srcExim},
			{ProbeEHLO, `^250-\S+ Hello \S+ \[`, 1, srcExim},
		}},
		{ProductSendmail, []rule{
			{ProbeBanner, `ESMTP Sendmail|Sendmail \d`, 3, srcSendmail},
			{ProbeUnknown, `^500 5\.5\.1 Command unrecognized: "`, 3, srcSendmail},
			{ProbeRcptFirst, `^503 5\.0\.0 Need MAIL before RCPT`, 3, srcSendmail},
			{ProbeVrfyEmpty, `^501 5\.5\.2 Argument required`, 2, srcSendmail},
			{ProbeHelp, `This is sendmail`, 3, srcSendmail},
			{ProbeEHLO, `pleased to meet you`, 1, srcSendmail},
			{ProbeEHLO, `^250[- ]DELIVERBY`, 2, srcSendmail},
		}},
		{ProductExchange, []rule{
			{ProbeBanner, `Microsoft ESMTP MAIL Service`, 3, srcExchange},
			{ProbeUnknown, `^500 5\.3\.3 Unrecognized command`, 3, srcExchange},
			{ProbeRcptFirst, `^503 5\.5\.2 Need mail command`, 2, srcExchange},
			{ProbeEHLO, `^250[- ](X-ANONYMOUSTLS|XEXCH50|XRDST|XSHADOW|X-EXPS)`, 3, srcExchange},
			{ProbeHelp, `^214-This server supports the following commands`, 2, srcExchange},
			{ProbeMailSyntax, `^501 5\.5\.4 Invalid arguments`, 1, srcExchange},
		}},
		{ProductOpenSMTPD, []rule{
			{ProbeBanner, `ESMTP OpenSMTPD`, 3, srcOpenSMTPD},
			{ProbeUnknown, `^500 5\.5\.1 Invalid command: Command unrecognized`, 3, srcOpenSMTPD},
			{ProbeHelp, `This is OpenSMTPD`, 3, srcOpenSMTPD},
			{ProbeRcptFirst, `Command not allowed at this point`, 2, srcOpenSMTPD},
			{ProbeEHLO, `pleased to meet you`, 1, srcOpenSMTPD},
		}},
		{ProductQmail, []rule{
			{ProbeUnknown, `^502 unimplemented \(#5\.5\.1\)`, 3, srcQmail},
			{ProbeRcptFirst, `^503 MAIL first \(#5\.5\.1\)`, 3, srcQmail},
			{ProbeVrfyEmpty, `^252 send some mail, i'll try my best`, 2, srcQmail},
			{ProbeHelp, `qmail home page`, 3, srcQmail},
			{ProbeMailSyntax, `^555 syntax error \(#5\.5\.4\)`, 2, srcQmail},
			{ProbeNoopArg, `^250 ok$`, 1, srcQmail},
		}},
		{ProductHaraka, []rule{
			{ProbeBanner, `ESMTP Haraka`, 3, srcHaraka},
			{ProbeEHLO, `Haraka is at your service`, 3, srcHaraka},
			{ProbeRcptFirst, `^503 Use MAIL before RCPT`, 2, srcHaraka},
			{ProbeUnknown, `^500 Unrecognized command`, 1, srcHaraka},
		}},
		{ProductLab, []rule{
			{ProbeHelp, `smtpsh lab, profile `, 10, srcLab},
			{ProbeBanner, `smtpsh-lab`, 2, srcLab + ": the default banner"},
			{ProbeUnknown, `^500 5\.5\.2 Error: command not recognized`, 2, srcLab + ": Postfix's wording"},
			{ProbeRcptFirst, `^503 5\.5\.1 Error: need MAIL command`, 2, srcLab + ": Postfix's wording"},
			{ProbeVrfyEmpty, `^501 5\.5\.4 Syntax: VRFY address \(`, 2, srcLab + ": the column of the error"},
		}},
	}
	out := make([]compiledSignature, len(sigs))
	for i, s := range sigs {
		out[i].product = s.product
		for _, r := range s.rules {
			out[i].rules = append(out[i].rules, compiledRule{rule: r, re: regexp.MustCompile("(?i)" + r.pattern)})
		}
	}
	return out
})

type compiledRule struct {
	rule
	re *regexp.Regexp
}

type compiledSignature struct {
	product string
	rules   []compiledRule
}
