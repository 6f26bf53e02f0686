package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/peertest"
	"github.com/smtpsh/smtpsh/internal/send"
)

// postfixXCLIENTEnv is set by .ci/postfix-modes.sh while the Postfix lab
// has smtpd_authorized_xclient_hosts = 127.0.0.0/8.
const postfixXCLIENTEnv = "SMTPSH_POSTFIX_XCLIENT"

// postfixLog is where the Postfix lab logs (maillog_file, postfix-lab.sh).
const postfixLog = "/var/log/smtpsh-lab/postfix.log"

// TestPeerXCLIENT speaks XCLIENT to Postfix with the shell's :xclient and
// with send --xclient, and reads what Postfix made of it: the 220 that
// starts the session over, then the delivered message's Received header
// and Postfix's log naming the client XCLIENT gave, not 127.0.0.1
// (Postfix XCLIENT_README).
//
// Postfix takes XCLIENT only from smtpd_authorized_xclient_hosts, which
// the lab's normal configuration leaves empty, and switching it would
// disturb the other packages' tests that run against Postfix in parallel
// in make check's main `go test`. So this test skips, with a message, unless
// SMTPSH_POSTFIX_XCLIENT=1: .ci/postfix-modes.sh sets it after authorizing
// 127.0.0.0/8, runs this test alone after the main run, and restores the
// lab's configuration (make check runs it).
func TestPeerXCLIENT(t *testing.T) {
	if os.Getenv(postfixXCLIENTEnv) != "1" {
		t.Skipf("needs Postfix with smtpd_authorized_xclient_hosts = 127.0.0.0/8: .ci/postfix-modes.sh runs it with %s=1 (make check)", postfixXCLIENTEnv)
	}
	pf := peertest.Postfix(t)
	t.Run("shell :xclient", func(t *testing.T) {
		mark := marker(t)
		out, err := runShellCmd(t, "", "--no-explain", "--timeout", "10s", pf,
			"-c", "EHLO client.example", "-c", "expect 250",
			"-c", ":xclient ADDR=192.0.2.7 NAME=shell-xclient.example PROTO=ESMTP", "-c", "expect 220",
			"-c", "EHLO client.example", "-c", "expect 250",
			"-c", "MAIL FROM:<student@example.org>", "-c", "RCPT TO:<bob@"+postfixDomain+">", "-c", "DATA", "-c", "expect 354",
			"-c", "Subject: "+mark, "-c", "", "-c", "sent by a client XCLIENT named", "-c", ".", "-c", "expect 250")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, w := range []string{"250-XCLIENT ", "C: XCLIENT ADDR=192.0.2.7 NAME=shell-xclient.example PROTO=ESMTP", "S: 220 "} {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
		checkXCLIENTDelivery(t, mark, "shell-xclient.example [192.0.2.7]", "client=shell-xclient.example[192.0.2.7]")
	})
	t.Run("send --xclient", func(t *testing.T) {
		mark := marker(t)
		out, err := runSendCmd(t, "", "--server", pf, "--from", "student@example.org", "--to", "bob@"+postfixDomain, "--subject", mark,
			"--xclient", "ADDR=192.0.2.8 NAME=send-xclient.example", "--json")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var s send.Summary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var verbs []string
		for _, c := range s.Commands {
			verbs = append(verbs, string(c.Verb)+":"+itoa(c.Code))
		}
		if got := strings.Join(verbs, " "); !strings.HasPrefix(got, ":220 EHLO:250 XCLIENT:220 EHLO:250 MAIL:250") {
			t.Errorf("commands %s", got)
		}
		checkXCLIENTDelivery(t, mark, "send-xclient.example [192.0.2.8]", "client=send-xclient.example[192.0.2.8]")
	})
}

// checkXCLIENTDelivery reads the message marked mark in bob's mailbox:
// its Received header names the client XCLIENT gave (received) and not
// localhost, and Postfix's log has the line "client=…" (logged).
func checkXCLIENTDelivery(t *testing.T, mark, received, logged string) {
	t.Helper()
	msg := mboxMessage(t, "bob", mark)
	head, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	// Postfix: "Received: from HELO (NAME [ADDR])\r\n\tby …".
	if !bytes.Contains(head, []byte("("+received+")")) {
		t.Errorf("the Received header does not name (%s):\n%s", received, head)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		log, err := os.ReadFile(postfixLog)
		if err != nil {
			t.Fatalf("Postfix's log: %v", err)
		}
		if bytes.Contains(log, []byte(logged)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no %q", postfixLog, logged)
		}
	}
}

// TestPeerXCLIENTRefused: in the lab's normal configuration (the main run
// of make check) Postfix refuses XCLIENT from 127.0.0.1 with 550 5.7.0;
// send --xclient ends there with exit 13 and sends no MAIL.
func TestPeerXCLIENTRefused(t *testing.T) {
	if os.Getenv(postfixXCLIENTEnv) == "1" {
		t.Skip("Postfix authorizes XCLIENT in this run (.ci/postfix-modes.sh)")
	}
	pf := peertest.Postfix(t)
	out, err := runSendCmd(t, "", "--server", pf, "--from", "student@example.org", "--to", "bob@"+postfixDomain,
		"--xclient", "ADDR=192.0.2.9", "--json")
	if exitStatus(err) != send.ExitXCLIENT || !strings.Contains(err.Error(), "550 5.7.0 Error: insufficient authorization") {
		t.Fatalf("exit %d, error %v\n%s", exitStatus(err), err, out)
	}
	var s send.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if s.FailedPhase != "xclient" {
		t.Errorf("failed phase %q", s.FailedPhase)
	}
	for _, c := range s.Commands {
		if c.Verb == "MAIL" {
			t.Errorf("MAIL sent after XCLIENT was refused: %+v", s.Commands)
		}
	}
}
