package shell

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/smtpsh/smtpsh/internal/audit"
	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/internal/render"
)

// The audit meta-commands (:fingerprint, :enum, :relaytest, :smuggle) run
// internal/audit's checks against the server this session talks to, on
// connections of their own: each probe and reply is printed as the shell
// prints typed commands, and the verdict comes with its evidence. This
// session's own connection is left as it was.

// commonUsers is what :enum tries when given no names: the accounts
// enumeration guides and nmap's smtp-enum-users start with.
var commonUsers = []string{"root", "admin", "administrator", "postmaster", "webmaster", "info", "test", "guest", "support", "sales"}

// auditTimeout bounds one audit meta-command.
const auditTimeout = 5 * time.Minute

// auditArgs are the options of the audit meta-commands.
type auditArgs struct {
	yes, send, owned bool
	method           audit.Method
	domain           string
	users            []string
}

func parseAuditArgs(arg string) (auditArgs, error) {
	a := auditArgs{}
	f := strings.Fields(arg)
	for i := 0; i < len(f); i++ {
		w := f[i]
		val := func() (string, error) {
			if _, v, ok := strings.Cut(w, "="); ok {
				return v, nil
			}
			if i+1 == len(f) {
				return "", fmt.Errorf("%s needs a value", w)
			}
			i++
			return f[i], nil
		}
		switch {
		case w == "--yes" || w == "-y":
			a.yes = true
		case w == "--send":
			a.send = true
		case w == "--i-own-this-server":
			a.owned = true
		case w == "--method" || strings.HasPrefix(w, "--method="):
			v, err := val()
			if err != nil {
				return a, err
			}
			if a.method, err = audit.ParseMethod(v); err != nil {
				return a, err
			}
		case w == "--domain" || strings.HasPrefix(w, "--domain="):
			v, err := val()
			if err != nil {
				return a, err
			}
			a.domain = v
		case strings.HasPrefix(w, "-"):
			return a, fmt.Errorf("unknown option %s", w)
		default:
			a.users = append(a.users, w)
		}
	}
	return a, nil
}

// auditCommand runs one audit check named by the meta-command name.
func (s *Session) auditCommand(name, arg string) {
	args, err := parseAuditArgs(arg)
	if err != nil {
		s.warn("%s: %s", name, render.Escape(err.Error()))
		return
	}
	if name != ":enum" && len(args.users) > 0 {
		s.warn("%s takes no names: %s", name, render.Escape(strings.Join(args.users, " ")))
		return
	}
	ctx := s.runCtx
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, auditTimeout)
	defer cancel()
	var opts dial.Options
	if td, ok := s.cfg.Dialer.(*TransportDialer); ok {
		opts = td.Options
	}
	scope := audit.ScopeOf(ctx, s.cfg.Addr, opts.Proxy, nil)
	if scope.NeedsConfirmation && !s.auditConfirmed && !args.yes {
		s.warn("%s", render.Escape(scope.Summary))
		s.warn("probing a server that is not on this machine needs its owner's permission: %s --yes if it is yours to test (asked once per session)", name)
		return
	}
	s.auditConfirmed = true
	a, err := audit.New(audit.Config{
		Addr: s.cfg.Addr, Dial: opts, StartTLS: s.cfg.StartTLS, EHLOName: s.cfg.EHLOName,
		Timeout: s.cfg.Timeout, Out: s.out, Terminal: s.cfg.Terminal,
	})
	if err != nil {
		s.warn("%s: %v", name, err)
		return
	}
	s.note("%s: probing %s on connections of its own; this session stays as it is", name, render.Escape(s.cfg.Addr))
	rep := &audit.Report{Target: s.cfg.Addr, Started: s.now()}
	switch name {
	case ":fingerprint":
		rep.Fingerprint, err = a.Fingerprint(ctx)
	case ":enum":
		users := args.users
		if len(users) == 0 {
			users = commonUsers
			s.note(":enum: no names given, trying common ones: %s", strings.Join(users, " "))
		}
		rep.Enum, err = a.Enumerate(ctx, audit.EnumOptions{Users: users, Method: args.method, Domain: args.domain})
	case ":relaytest":
		o := audit.RelayOptions{Send: args.send, Domain: args.domain}
		if args.send {
			if o.Fingerprint, err = a.Fingerprint(ctx); err != nil {
				break
			}
		}
		rep.Relay, err = a.RelayTest(ctx, o)
	case ":smuggle":
		o := audit.SmuggleOptions{IOwnThisServer: args.owned}
		if o.Fingerprint, err = a.Fingerprint(ctx); err != nil {
			break
		}
		rep.Smuggle, err = a.Smuggle(ctx, o)
	}
	if err != nil {
		s.warn("%s: %s", name, render.Escape(err.Error()))
	}
	if rep.Fingerprint != nil || rep.Enum != nil || rep.Relay != nil || rep.Smuggle != nil {
		if werr := rep.WriteText(s.out); werr != nil {
			s.warn("%v", werr)
		}
	}
}
