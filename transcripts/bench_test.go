package transcripts

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// bigSession is labSession repeated to about a megabyte, with times.
func bigSession() *Transcript {
	one := labSession()
	tr := &Transcript{Server: one.Server, Client: one.Client, Started: one.Started, Source: one.Source}
	for i := 0; i < 800; i++ {
		for _, e := range one.Events {
			if !e.Time.IsZero() {
				e.Time = e.Time.Add(time.Duration(i) * 10 * time.Second)
			}
			tr.Events = append(tr.Events, e)
		}
	}
	return tr
}

func benchInput(b *testing.B, write func(io.Writer, *Transcript, WriteOptions) error) []byte {
	var buf bytes.Buffer
	if err := write(&buf, bigSession(), WriteOptions{Times: true}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkParse(b *testing.B) {
	in := benchInput(b, Write)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	tr := bigSession()
	b.SetBytes(int64(len(benchInput(b, Write))))
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(io.Discard, tr, WriteOptions{Times: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseJSONL(b *testing.B) {
	in := benchInput(b, WriteJSONL)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseJSONL(bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteJSONL(b *testing.B) {
	tr := bigSession()
	b.SetBytes(int64(len(benchInput(b, WriteJSONL))))
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteJSONL(io.Discard, tr, WriteOptions{Times: true}); err != nil {
			b.Fatal(err)
		}
	}
}
