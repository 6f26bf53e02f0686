package smtp

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/xdg-go/scram"
)

// SCRAM mechanism names (RFC 5802 §4, RFC 7677 §3).
const (
	SCRAMSHA1   = "SCRAM-SHA-1"
	SCRAMSHA256 = "SCRAM-SHA-256"
)

// SCRAMHash returns the hash of a SCRAM mechanism name (any case): SHA-1
// for SCRAM-SHA-1 (RFC 5802), SHA-256 for SCRAM-SHA-256 (RFC 7677). The
// -PLUS variants need channel binding, which smtpsh does not do.
func SCRAMHash(mech string) (scram.HashGeneratorFcn, error) {
	switch strings.ToUpper(mech) {
	case SCRAMSHA1:
		return scram.SHA1, nil
	case SCRAMSHA256:
		return scram.SHA256, nil
	}
	return nil, fmt.Errorf("%q is not SCRAM-SHA-1 or SCRAM-SHA-256", mech)
}

// SCRAMClient is the client side of one SCRAM exchange over AUTH
// (RFC 5802 §5 carried by RFC 4954 §4): Start gives the client-first
// message, Next answers the server-first with the client-final and the
// server-final with an empty response once the server's signature is
// checked.
type SCRAMClient struct {
	mech string
	conv *scram.ClientConversation
}

// NewSCRAMClient prepares a SCRAM exchange for user and password (both
// SASLprep'd, RFC 5802 §5.1) with an optional authorization identity.
func NewSCRAMClient(mech, user, pass, authzid string) (*SCRAMClient, error) {
	return newSCRAMClient(mech, user, pass, authzid, nil)
}

// newSCRAMClient is NewSCRAMClient with a fixed nonce generator, so tests
// can replay the RFCs' example exchanges; nil uses a random nonce.
func newSCRAMClient(mech, user, pass, authzid string, nonce func() string) (*SCRAMClient, error) {
	h, err := SCRAMHash(mech)
	if err != nil {
		return nil, err
	}
	c, err := h.NewClient(user, pass, authzid)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.ToUpper(mech), err)
	}
	if nonce != nil {
		c = c.WithNonceGenerator(nonce)
	}
	return &SCRAMClient{mech: strings.ToUpper(mech), conv: c.NewConversation()}, nil
}

// Start returns the base64 client-first message (RFC 5802 §7:
// "n,," "n=" user ",r=" nonce), sent as AUTH's initial response.
func (c *SCRAMClient) Start() (string, error) {
	m, err := c.conv.Step("")
	if err != nil {
		return "", fmt.Errorf("%s client-first: %w", c.mech, err)
	}
	return base64.StdEncoding.EncodeToString([]byte(m)), nil
}

// Next answers a 334 challenge (its base64 text). To the server-first
// message it returns the client-final with the proof; to the server-final
// ("v=" signature) it returns "" (an empty response line, RFC 4954 §4)
// after checking the signature, so a server that does not know the
// password is caught. A server-final "e=" error or a wrong signature is an
// error.
func (c *SCRAMClient) Next(challengeB64 string) (string, error) {
	b, err := DecodeBase64Line(challengeB64)
	if err != nil {
		return "", fmt.Errorf("%s challenge: %w", c.mech, err)
	}
	if c.conv.Done() {
		return "", fmt.Errorf("%s: a challenge after the exchange ended", c.mech)
	}
	m, err := c.conv.Step(string(b))
	if err != nil {
		if e, ok := strings.CutPrefix(string(b), "e="); ok {
			return "", fmt.Errorf("%s: the server says %q (RFC 5802 §7 server-error)", c.mech, e)
		}
		return "", fmt.Errorf("%s: %w", c.mech, err)
	}
	if c.conv.Done() {
		return "", nil
	}
	return base64.StdEncoding.EncodeToString([]byte(m)), nil
}

// Valid reports whether the server proved it knows the password (its
// server-final signature matched, RFC 5802 §3).
func (c *SCRAMClient) Valid() bool { return c.conv.Valid() }

// SCRAMAttr is one attribute of a SCRAM message: a letter and its value
// (RFC 5802 §5.1).
type SCRAMAttr struct {
	Key   byte
	Value string
}

// SCRAMMessage is a decoded SCRAM message: the gs2 header of a
// client-first or client-final ("n,,", as sent or as the "c=" binding),
// and the attributes in order.
type SCRAMMessage struct {
	GS2   string
	Attrs []SCRAMAttr
}

// Get returns the value of attribute k, "" if absent.
func (m SCRAMMessage) Get(k byte) string {
	for _, a := range m.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

// maxSCRAMAttrs bounds the attributes decoded from one message.
const maxSCRAMAttrs = 32

// ParseSCRAM decodes the base64 text of any SCRAM message (RFC 5802 §7)
// for display: a client-first starts with a gs2 header ("n,", "y," or
// "p=…," then an optional "a=" authzid and ","), the others are
// attributes only. Each attribute is a letter, "=" and a value; anything
// else is a *SyntaxError with the decoded column.
func ParseSCRAM(b64 string) (SCRAMMessage, error) {
	const what = "SASL SCRAM"
	var m SCRAMMessage
	b, err := DecodeBase64Line(b64)
	if err != nil {
		return m, fmt.Errorf("%s: %w", what, err)
	}
	s := string(b)
	off := 0
	if len(s) > 1 && (s[0] == 'n' || s[0] == 'y') && s[1] == ',' || strings.HasPrefix(s, "p=") {
		// gs2-header = gs2-cbind-flag "," [ authzid ] ","
		i := strings.IndexByte(s, ',')
		j := -1
		if i >= 0 {
			j = strings.IndexByte(s[i+1:], ',')
		}
		if j < 0 {
			return m, syntaxErr(what, 0, "gs2 header without its two commas (RFC 5802 §7)")
		}
		off = i + 1 + j + 1
		m.GS2 = s[:off]
	}
	if off == len(s) {
		return m, syntaxErr(what, off+1, "no attributes after the gs2 header")
	}
	for _, f := range strings.Split(s[off:], ",") {
		if len(m.Attrs) == maxSCRAMAttrs {
			return m, syntaxErr(what, off+1, "more than %d attributes", maxSCRAMAttrs)
		}
		if len(f) < 2 || f[1] != '=' || !(f[0] >= 'a' && f[0] <= 'z' || f[0] >= 'A' && f[0] <= 'Z') {
			return m, syntaxErr(what, off+1, "%q is not attr=value (RFC 5802 §7)", f)
		}
		m.Attrs = append(m.Attrs, SCRAMAttr{f[0], f[2:]})
		off += len(f) + 1
	}
	return m, nil
}

// DescribeSCRAM says in one line what a SCRAM message holds, for the
// shell: the user and nonce of a client-first, the salt and iteration
// count of a server-first, the proof of a client-final (computed from the
// password, but not the password and not replayable: the nonces change
// every time), the server's signature or error.
func DescribeSCRAM(b64 string) (string, error) {
	m, err := ParseSCRAM(b64)
	if err != nil {
		return "", err
	}
	get := func(k byte) string { return m.Get(k) }
	switch {
	case m.GS2 != "":
		user, _ := decodeSASLName(get('n'))
		return fmt.Sprintf("client-first: gs2 header %q (no channel binding), user %q, client nonce %q (RFC 5802 §5.1)", m.GS2, user, get('r')), nil
	case get('s') != "" && get('i') != "":
		return fmt.Sprintf("server-first: combined nonce %q, salt %s, %s iterations of PBKDF2 (RFC 5802 §5.1)", get('r'), get('s'), get('i')), nil
	case get('p') != "":
		return fmt.Sprintf("client-final: channel binding %q, nonce %q, proof %s (derived from the password, not replayable)", get('c'), get('r'), get('p')), nil
	case get('v') != "":
		return fmt.Sprintf("server-final: server signature %s: the server proves it knows the salted password (RFC 5802 §3)", get('v')), nil
	case get('e') != "":
		return fmt.Sprintf("server-final: error %q (RFC 5802 §7)", get('e')), nil
	}
	return "", errors.New("SASL SCRAM: not a message this exchange has")
}
