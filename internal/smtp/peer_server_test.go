package smtp_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// peerServer is a small SMTP server built only from this package's parts
// (command parser, reply writer, dot-unstuffer, SASL decoders). Real clients
// (swaks, Python's smtplib) talk to it, and what it decoded is compared with
// what those clients were told to send: the clients are the independent truth.
type peerServer struct {
	ln       net.Listener
	user     string
	password string

	mu       sync.Mutex
	commands []*smtp.Command
	errs     []string // parse errors, with the line
	auths    []peerAuth
	bodies   [][]byte
	dataWarn []smtp.DataWarning
}

type peerAuth struct {
	Mechanism, User string
	OK              bool
}

// startPeerServer listens on loopback and serves until the test ends.
func startPeerServer(t *testing.T, user, password string) *peerServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &peerServer{ln: ln, user: user, password: password}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				s.serve(c)
			}()
		}
	}()
	return s
}

func (s *peerServer) addr() string { return s.ln.Addr().String() }

// readLine reads one CRLF-terminated line of at most 1000 octets.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r"), nil
}

func (s *peerServer) serve(c net.Conn) {
	br := bufio.NewReaderSize(c, 1024)
	reply := func(code int, enh string, lines ...string) error {
		var ec smtp.EnhancedCode
		if enh != "" {
			ec, _ = smtp.ParseEnhancedCode(enh)
		}
		return smtp.WriteReply(c, code, ec, lines...)
	}
	if reply(220, "", "peer.test ESMTP smtpsh test peer") != nil {
		return
	}
	for {
		line, err := readLine(br)
		if err != nil {
			return
		}
		cmd, err := smtp.ParseCommand(line)
		s.mu.Lock()
		if err != nil {
			s.errs = append(s.errs, line+": "+err.Error())
		} else {
			s.commands = append(s.commands, cmd)
		}
		s.mu.Unlock()
		if err != nil {
			reply(500, "5.5.2", "syntax error")
			continue
		}
		switch cmd.Verb {
		case smtp.EHLO:
			err = reply(250, "", "peer.test", "PIPELINING", "8BITMIME", "SIZE 10240000", "DSN",
				"ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN CRAM-MD5")
		case smtp.HELO:
			err = reply(250, "", "peer.test")
		case smtp.MAIL:
			err = reply(250, "2.1.0", "Ok")
		case smtp.RCPT:
			err = reply(250, "2.1.5", "Ok")
		case smtp.DATA:
			if err = reply(354, "", "End data with <CR><LF>.<CR><LF>"); err != nil {
				return
			}
			dr := smtp.NewDotReader(br, nil)
			body, rerr := io.ReadAll(dr)
			s.mu.Lock()
			s.bodies = append(s.bodies, body)
			s.dataWarn = append(s.dataWarn, dr.Warnings()...)
			s.mu.Unlock()
			if rerr != nil {
				return
			}
			err = reply(250, "2.0.0", "Ok: queued")
		case smtp.AUTH:
			err = s.auth(c, br, cmd, reply)
		case smtp.RSET, smtp.NOOP:
			err = reply(250, "2.0.0", "Ok")
		case smtp.QUIT:
			reply(221, "2.0.0", "Bye")
			return
		default:
			err = reply(502, "5.5.1", "not implemented")
		}
		if err != nil {
			return
		}
	}
}

// auth runs the SASL exchange of RFC 4954 §4 for PLAIN, LOGIN and CRAM-MD5,
// decoding with this package's SASL functions.
func (s *peerServer) auth(c net.Conn, br *bufio.Reader, cmd *smtp.Command, reply func(int, string, ...string) error) error {
	challenge := func(b64 string) (string, error) {
		if err := reply(334, "", b64); err != nil {
			return "", err
		}
		return readLine(br)
	}
	var user, pass string
	ok := false
	var err error
	switch cmd.Mechanism {
	case "PLAIN":
		resp := cmd.InitialResponse
		if resp == "" {
			if resp, err = challenge(""); err != nil {
				return err
			}
		}
		_, user, pass, err = smtp.DecodePlain(resp)
		ok = err == nil && user == s.user && pass == s.password
	case "LOGIN":
		resp := cmd.InitialResponse
		if resp == "" {
			if resp, err = challenge(smtp.EncodeLogin("Username:")); err != nil {
				return err
			}
		}
		if user, err = smtp.DecodeLogin(resp); err == nil {
			if resp, err = challenge(smtp.EncodeLogin("Password:")); err != nil {
				return err
			}
			pass, err = smtp.DecodeLogin(resp)
		}
		ok = err == nil && user == s.user && pass == s.password
	case "CRAM-MD5":
		ch := base64.StdEncoding.EncodeToString([]byte("<1896.697170952@peer.test>"))
		var resp, digest string
		if resp, err = challenge(ch); err != nil {
			return err
		}
		user, digest, err = smtp.DecodeCRAMMD5(ch, resp)
		ok = err == nil && user == s.user && smtp.VerifyCRAMMD5("<1896.697170952@peer.test>", user, digest, s.password)
	default:
		return reply(504, "5.5.4", "mechanism not supported")
	}
	s.mu.Lock()
	s.auths = append(s.auths, peerAuth{Mechanism: cmd.Mechanism, User: user, OK: ok})
	s.mu.Unlock()
	if ok {
		return reply(235, "2.7.0", "Authentication successful")
	}
	return reply(535, "5.7.8", "Authentication credentials invalid")
}

// snapshot returns copies of what the server recorded.
func (s *peerServer) snapshot() (cmds []*smtp.Command, errs []string, auths []peerAuth, bodies [][]byte, warn []smtp.DataWarning) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(cmds, s.commands...), append(errs, s.errs...), append(auths, s.auths...),
		append(bodies, s.bodies...), append(warn, s.dataWarn...)
}

// messageBody returns what follows the header/body separator of a message.
func messageBody(msg []byte) ([]byte, error) {
	_, body, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
	if !ok {
		return nil, errors.New("no blank line between header and body")
	}
	return body, nil
}
