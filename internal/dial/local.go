package dial

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/smtpsh/smtpsh/internal/render"
)

// UnixPrefix starts a target that is a Unix-domain socket:
// "unix:/var/run/dovecot/lmtp". LMTP servers listen on such sockets
// (RFC 2033 §5 allows any stream transport).
const UnixPrefix = "unix:"

// IsUnix reports whether target names a Unix socket ("unix:/path").
func IsUnix(target string) bool { return strings.HasPrefix(target, UnixPrefix) }

// Dialer opens the stream to a target in any of smtpsh's forms: a
// "host:port" (Dial), a "unix:/path" socket (DialUnix), or, when Pipe is
// set, a local program's standard input and output (DialPipe), whatever
// the target. Its Dial method has the shape of the shell's Dialer.
type Dialer struct {
	Options Options
	// Pipe is a shell command line ("/usr/sbin/sendmail -bs") to speak
	// SMTP to, instead of connecting.
	Pipe string
}

// Dial opens the stream to target as the Dialer says.
func (d *Dialer) Dial(ctx context.Context, target string) (net.Conn, error) {
	var (
		c   *Conn
		err error
	)
	switch {
	case d.Pipe != "":
		c, err = DialPipe(ctx, d.Pipe, d.Options)
	case IsUnix(target):
		c, err = DialUnix(ctx, strings.TrimPrefix(target, UnixPrefix), d.Options)
	default:
		c, err = Dial(ctx, target, d.Options)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialUnix connects to the Unix-domain socket at path. Proxies and the
// PROXY header do not apply to a local socket and are errors; implicit TLS
// and STARTTLS work as over TCP, verifying o.TLSConfig.ServerName
// ("localhost" when unset).
func DialUnix(ctx context.Context, path string, o Options) (*Conn, error) {
	if path == "" {
		return nil, errors.New("unix socket: empty path (want unix:/path/to/socket)")
	}
	if o.Proxy != "" || o.ProxyProtocol != "" {
		return nil, fmt.Errorf("unix socket %s: a proxy or PROXY header does not apply to a local socket", render.Escape(path))
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to unix socket %s: %w", render.Escape(path), err)
	}
	return local(ctx, raw, UnixPrefix+path, o)
}

// local finishes a Conn over a stream that needs no proxy: the reader,
// the path, implicit TLS if asked.
func local(ctx context.Context, raw net.Conn, target string, o Options) (*Conn, error) {
	sname := o.TLSConfig.ServerName
	if sname == "" {
		sname = "localhost"
	}
	c := &Conn{opts: o, sname: sname, raw: raw, base: raw, conn: raw, path: Path{Target: target}}
	c.path.Local, c.path.Remote = raw.LocalAddr().String(), raw.RemoteAddr().String()
	c.br = bufio.NewReaderSize(raw, readerSize)
	if err := c.setup(ctx, nil, target); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

// maxStderr bounds what is kept of a piped program's standard error.
const maxStderr = 4096

// pipeWait is how long Close waits for a piped program to exit after its
// standard input closes, before killing it.
const pipeWait = 2 * time.Second

// DialPipe starts command with /bin/sh -c and returns a Conn that writes
// to its standard input and reads its standard output: SMTP to a local
// program, as "sendmail -bs" speaks it (Postfix's sendmail(1), Sendmail's
// -bs "stand-alone SMTP"). Closing the Conn closes the program's input and
// waits up to two seconds for it to exit, then kills it. What it writes on
// standard error (the first 4096 bytes) is in the Close error. Proxies
// and the PROXY header are errors; ctx ends the program.
func DialPipe(ctx context.Context, command string, o Options) (*Conn, error) {
	if strings.TrimSpace(command) == "" {
		return nil, errors.New("--pipe: empty command")
	}
	if o.Proxy != "" || o.ProxyProtocol != "" {
		return nil, errors.New("--pipe: a proxy or PROXY header does not apply to a local program")
	}
	pc, err := startPipe(command)
	if err != nil {
		return nil, err
	}
	hctx := ctx
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	return local(hctx, pc, "pipe:"+command, o)
}

// pipeConn is a program's standard input and output as a net.Conn. The
// pipes are *os.File from os.Pipe, so deadlines work (the runtime polls
// them).
type pipeConn struct {
	cmd     *exec.Cmd
	in      *os.File // the program's stdin, our write end
	out     *os.File // the program's stdout, our read end
	addr    pipeAddr
	stderr  *boundedBuffer
	done    chan struct{} // closed when the program has exited
	waitErr error

	closeOnce sync.Once
	closeErr  error
}

func startPipe(command string) (*pipeConn, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("--pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("--pipe: %w", err)
	}
	// Not CommandContext: the Conn's life, not a dial context, bounds the
	// program; Close ends it.
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = pipeEnv(os.Environ())
	eb := &boundedBuffer{max: maxStderr}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, eb
	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{inR, inW, outR, outW} {
			f.Close()
		}
		return nil, fmt.Errorf("--pipe %s: %w", render.Escape(command), err)
	}
	// The child holds its own copies of these ends.
	inR.Close()
	outW.Close()
	pc := &pipeConn{cmd: cmd, in: inW, out: outR, addr: pipeAddr(command), stderr: eb, done: make(chan struct{})}
	go func() {
		pc.waitErr = cmd.Wait()
		close(pc.done)
	}()
	return pc, nil
}

func (p *pipeConn) Read(b []byte) (int, error)  { return p.out.Read(b) }
func (p *pipeConn) Write(b []byte) (int, error) { return p.in.Write(b) }

// Close closes the program's input, waits for it to exit (killing it after
// pipeWait), and reports a failed exit with what it wrote on stderr.
func (p *pipeConn) Close() error {
	p.closeOnce.Do(func() {
		p.in.Close()
		select {
		case <-p.done:
		case <-time.After(pipeWait):
			p.cmd.Process.Kill()
			<-p.done
		}
		p.out.Close()
		if p.waitErr != nil {
			msg := strings.TrimSpace(p.stderr.String())
			if msg != "" {
				p.closeErr = fmt.Errorf("%s: %w: %s", render.Escape(string(p.addr)), p.waitErr, render.Escape(msg))
			} else {
				p.closeErr = fmt.Errorf("%s: %w", render.Escape(string(p.addr)), p.waitErr)
			}
		}
	})
	return p.closeErr
}

func (p *pipeConn) LocalAddr() net.Addr  { return pipeAddr("smtpsh") }
func (p *pipeConn) RemoteAddr() net.Addr { return p.addr }

func (p *pipeConn) SetDeadline(t time.Time) error {
	return errors.Join(p.in.SetWriteDeadline(t), p.out.SetReadDeadline(t))
}
func (p *pipeConn) SetReadDeadline(t time.Time) error  { return p.out.SetReadDeadline(t) }
func (p *pipeConn) SetWriteDeadline(t time.Time) error { return p.in.SetWriteDeadline(t) }

// pipeAddr is a piped program's command line as a net.Addr.
type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	mu  sync.Mutex
	b   bytes.Buffer
	max int
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.max - w.b.Len(); room > 0 {
		w.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (w *boundedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// pipeEnv is the environment of a --pipe program: ours without smtpsh's
// own variables. The program is the server; the client's secrets
// ($SMTPSH_PASSWORD and $SMTPSH_OAUTH_TOKEN, which :auth and send read)
// are none of its business.
func pipeEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "SMTPSH_") {
			out = append(out, kv)
		}
	}
	return out
}
