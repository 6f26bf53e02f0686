package lessons

import (
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab/store"
	"github.com/smtpsh/smtpsh/transcripts"
)

const engineLesson = `+++
title = "Engine"
summary = "S"
profile = "default"
objectives = ["O"]
+++
Intro.

## Step: Greet

` + "```check\ncommand = \"EHLO\"\nreply = \"250\"\nreply_to = \"EHLO\"\ncapability = \"STARTTLS\"\n```\n```hint\nFirst hint.\n```\n```hint\nSecond hint.\n```\n```solution\nEHLO x\n```\n```wrong\nHELO x\n```\n" + `
## Step: Verify

` + "```check\nreply = \"252\"\nreply_to = \"VRFY\"\nenhanced = \"2.0.0\"\n```\n```solution\nVRFY bob\n```\n" + `
## Summary

All done.
`

// TestEngineSteps feeds the engine the events of a Postfix-like session
// (RFC 5321 D.1 with a VRFY) and checks what it prints and records.
func TestEngineSteps(t *testing.T) {
	l, err := Parse("09-engine.md", []byte(engineLesson))
	if err != nil {
		t.Fatal(err)
	}
	var saved []LessonProgress
	e, err := NewEngine(EngineConfig{Lesson: l, OnProgress: func(p LessonProgress) { saved = append(saved, p) },
		Now: func() time.Time { return time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	at := time.Now()
	ev := func(k transcripts.Kind, text string) string {
		n := out.Len()
		e.Event(transcripts.Event{Kind: k, Time: at, Text: text}, &out)
		return out.String()[n:]
	}
	meta := func(name string) (bool, string) {
		n := out.Len()
		ok := e.Meta(name, "", &out)
		return ok, out.String()[n:]
	}
	e.Start(&out)
	if s := out.String(); !strings.Contains(s, "Step 1/2: Greet") || !strings.Contains(s, "Intro.") {
		t.Fatalf("start:\n%s", s)
	}
	ev(transcripts.Connect, "")
	if got := ev(transcripts.Server, "220 mail.example.org ESMTP Postfix"); got != "" {
		t.Errorf("the greeting printed %q", got)
	}
	// HELO is not the command the step asks for: the first hint.
	ev(transcripts.Client, "HELO client.example")
	if got := ev(transcripts.Server, "250 mail.example.org"); !strings.Contains(got, "Hint 1/2") || !strings.Contains(got, "First hint.") {
		t.Errorf("after HELO: %q", got)
	}
	if ok, got := meta(":hint"); !ok || !strings.Contains(got, "Second hint.") {
		t.Errorf(":hint = %v %q", ok, got)
	}
	if ok, got := meta(":hint"); !ok || !strings.Contains(got, "Second hint.") || !strings.Contains(got, ":skip") {
		t.Errorf("third :hint = %v %q", ok, got)
	}
	// EHLO whose reply lacks STARTTLS does not complete the step; one
	// that lists it does, once the whole reply is in.
	ev(transcripts.Client, "EHLO client.example")
	ev(transcripts.Server, "250-mail.example.org")
	if got := ev(transcripts.Server, "250 PIPELINING"); strings.Contains(got, "✓") {
		t.Errorf("completed without STARTTLS: %q", got)
	}
	ev(transcripts.Client, "EHLO client.example")
	if got := ev(transcripts.Server, "250-mail.example.org"); got != "" {
		t.Errorf("mid-reply: %q", got)
	}
	if got := ev(transcripts.Server, "250 STARTTLS"); !strings.Contains(got, "✓ step 1/2: Greet") || !strings.Contains(got, "Step 2/2: Verify") {
		t.Errorf("end of EHLO reply: %q", got)
	}
	// A 252 to NOOP is no answer to VRFY.
	ev(transcripts.Client, "NOOP")
	ev(transcripts.Server, "252 2.0.0 Ok")
	if step, _ := e.State(); step != 1 {
		t.Fatalf("step = %d after a 252 to NOOP", step)
	}
	if ok, got := meta(":explain"); ok || got != "" {
		t.Errorf(":explain handled by the engine: %v %q", ok, got)
	}
	ev(transcripts.Client, "VRFY bob")
	got := ev(transcripts.Server, "252 2.0.0 bob")
	if !strings.Contains(got, "✓ step 2/2: Verify") || !strings.Contains(got, "All done.") || !strings.Contains(got, "lesson complete") {
		t.Errorf("end: %q", got)
	}
	if !e.Finished() {
		t.Error("not finished")
	}
	if len(saved) != 2 {
		t.Fatalf("OnProgress called %d times", len(saved))
	}
	last := saved[1]
	if !last.Finished || strings.Join(last.Done, "|") != "Greet|Verify" || last.Steps != 2 {
		t.Errorf("progress = %+v", last)
	}
}

// TestEngineSkip: :skip marks the step skipped and moves on; a later run
// that does it turns skipped into done.
func TestEngineSkip(t *testing.T) {
	l, err := Parse("09-engine.md", []byte(engineLesson))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := NewEngine(EngineConfig{Lesson: l})
	var out strings.Builder
	e.Start(&out)
	if !e.Meta(":skip", "", &out) || !strings.Contains(out.String(), "skipped step 1/2") {
		t.Fatalf(":skip:\n%s", out.String())
	}
	p := e.Progress()
	if strings.Join(p.Skipped, "|") != "Greet" || len(p.Done) != 0 || p.Finished {
		t.Errorf("progress after :skip = %+v", p)
	}
	if done, skipped := p.Count(l); done != 0 || skipped != 1 {
		t.Errorf("Count = %d, %d", done, skipped)
	}
	e2, _ := NewEngine(EngineConfig{Lesson: l, Progress: p})
	e2.Start(&out)
	e2.Event(transcripts.Event{Kind: transcripts.Connect}, &out)
	e2.Event(transcripts.Event{Kind: transcripts.Server, Text: "220 x"}, &out)
	e2.Event(transcripts.Event{Kind: transcripts.Client, Text: "EHLO y"}, &out)
	e2.Event(transcripts.Event{Kind: transcripts.Server, Text: "250-x"}, &out)
	e2.Event(transcripts.Event{Kind: transcripts.Server, Text: "250 STARTTLS"}, &out)
	p2 := e2.Progress()
	if strings.Join(p2.Done, "|") != "Greet" || len(p2.Skipped) != 0 {
		t.Errorf("progress after doing the skipped step = %+v", p2)
	}
}

// TestEngineStoredAnswer: a step checked with data_match and stored_for
// completes only when the message with the matching line is stored, not
// when a wrong answer stored earlier in the step meets the right line
// typed but not yet sent.
func TestEngineStoredAnswer(t *testing.T) {
	src := `+++
title = "Answer"
summary = "S"
profile = "default"
objectives = ["O"]
+++
Intro.

## Step: Answer

` + "```check\ndata_match = \"(?i)^Subject: answer 8$\"\nstored_for = \"alice@lab.smtpsh.test\"\n```\n```solution\nNOOP\n```\n```wrong\nRSET\n```\n"
	l, err := Parse("98-answer.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	lb, err := StartLab(l.Profile)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	e, err := NewEngine(EngineConfig{Lesson: l, Lab: lb})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	e.Start(&out)
	deliver := func(subject string) {
		if err := lb.Store.Deliver(&store.Message{To: []string{"alice@lab.smtpsh.test"}, Mailboxes: []string{"alice"},
			Data: []byte("Received: from test\r\nSubject: " + subject + "\r\n\r\nx\r\n")}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now()
	ev := func(k transcripts.Kind, text string) {
		e.Event(transcripts.Event{Kind: k, Time: at, Text: text}, &out)
	}
	// The wrong answer, sent and stored.
	ev(transcripts.Data, "Subject: answer 1")
	deliver("answer 1")
	ev(transcripts.Client, ".")
	ev(transcripts.Server, "250 2.0.0 Ok: queued")
	// The right line typed: not yet stored.
	ev(transcripts.Data, "Subject: answer 8")
	if step, _ := e.State(); step != 0 {
		t.Fatalf("the step completed on a line typed but not sent:\n%s", out.String())
	}
	deliver("answer 8")
	ev(transcripts.Client, ".")
	ev(transcripts.Server, "250 2.0.0 Ok: queued")
	if !e.Finished() {
		t.Errorf("not complete once the right answer is stored:\n%s", out.String())
	}
}
