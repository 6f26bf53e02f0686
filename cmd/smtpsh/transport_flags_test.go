package main

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

func TestTransportFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-min", "1.4", "127.0.0.1:1"}, "--tls-min"},
		{[]string{"--proxy-protocol", "v3", "127.0.0.1:1"}, "--proxy-protocol"},
		{[]string{"--client-cert", "c.pem", "127.0.0.1:1"}, "--client-cert and --client-key go together"},
		{[]string{"-4", "-6", "127.0.0.1:1"}, "-4 and -6"},
		{[]string{"--tls", "--starttls", "127.0.0.1:1"}, "--tls"},
	} {
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitStatus(err) != 1 {
			t.Errorf("smtpsh %s: %v (exit %d); want a usage error (exit 1) naming %s", strings.Join(tc.args, " "), err, exitStatus(err), tc.want)
		}
	}
}

// TestProxyProtocolHeader: --proxy-protocol v1 sends the HAProxy header
// before anything else (PROXY protocol spec §2.1: "PROXY TCP4 src dst sport
// dport\r\n"), then the session goes on as usual.
func TestProxyProtocolHeader(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		header, _ := br.ReadString('\n')
		got <- header
		c.Write([]byte("220 fake.example ESMTP\r\n"))
		br.ReadString('\n') // QUIT
		c.Write([]byte("221 2.0.0 Bye\r\n"))
	}()
	out, err := run(t, "--proxy-protocol", "v1", "--no-explain", ln.Addr().String(), "-c", "QUIT")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	h := <-got
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if !strings.HasPrefix(h, "PROXY TCP4 127.0.0.1 127.0.0.1 ") || !strings.HasSuffix(h, " "+port+"\r\n") {
		t.Errorf("header %q, want \"PROXY TCP4 127.0.0.1 127.0.0.1 <sport> %s\\r\\n\"", h, port)
	}
}
