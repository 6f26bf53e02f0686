package store

import (
	"strings"
	"testing"
)

// benchData is a typical small message: a few headers and 1 KiB of text.
var benchData = []byte("Received: from student.example ([127.0.0.1])\r\n\tby lab.smtpsh.test with ESMTP id x\r\n" +
	"From: bob@lab.smtpsh.test\r\nTo: alice@lab.smtpsh.test\r\nSubject: benchmark\r\n\r\n" +
	strings.Repeat("The quick brown fox jumps over the lazy dog, twice a line.\r\n", 17))

func benchDeliver(b *testing.B, s *Store, parallel bool) {
	b.SetBytes(int64(len(benchData)))
	b.ReportAllocs()
	deliver := func() {
		m := &Message{From: "bob@lab.smtpsh.test", To: []string{"alice@lab.smtpsh.test"},
			Mailboxes: []string{"alice"}, Data: benchData}
		if err := s.Deliver(m); err != nil {
			b.Fatal(err)
		}
	}
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				deliver()
			}
		})
	} else {
		for b.Loop() {
			deliver()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkDeliverMemory is the lab's default store with its default
// bounds, so eviction is part of the cost once it is full.
func BenchmarkDeliverMemory(b *testing.B) {
	for _, p := range []struct {
		name     string
		parallel bool
	}{{"serial", false}, {"parallel", true}} {
		b.Run(p.name, func(b *testing.B) {
			s, err := New("")
			if err != nil {
				b.Fatal(err)
			}
			benchDeliver(b, s, p.parallel)
		})
	}
}

// BenchmarkDeliverMaildir pays two fsyncs per message (file and new/), the
// price of never losing a 250'd message; parallel deliveries overlap them.
func BenchmarkDeliverMaildir(b *testing.B) {
	for _, p := range []struct {
		name     string
		parallel bool
	}{{"serial", false}, {"parallel", true}} {
		b.Run(p.name, func(b *testing.B) {
			s, err := New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			benchDeliver(b, s, p.parallel)
		})
	}
}
