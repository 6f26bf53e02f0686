package dial_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

// Reaching a server through the proxy in SMTPSH_PROXY (or ALL_PROXY), and
// upgrading with STARTTLS. Replies are read through Conn.Reader, which may
// already hold the banner when Dial returns.
func ExampleDial() {
	ctx := context.Background()
	c, err := dial.Dial(ctx, "127.0.0.1:10025", dial.Options{
		Proxy:   dial.ProxyFromEnv(os.Getenv),
		Timeout: 10 * time.Second,
	})
	if err != nil {
		log.Fatal(err) // e.g. a *dial.ProxyError naming the proxy and its answer
	}
	defer c.Close()
	fmt.Println("path:", c.Path())
	rr := smtp.NewReplyReader(c.Reader(), nil)
	if _, err := rr.ReadReply(); err != nil { // the banner
		log.Fatal(err)
	}
	io.WriteString(c, "EHLO client.example\r\n")
	rr.ReadReply()
	io.WriteString(c, "STARTTLS\r\n")
	if r, err := rr.ReadReply(); err != nil || r.Code != 220 {
		log.Fatal("no STARTTLS")
	}
	insp, err := c.StartTLS(ctx)
	if err != nil {
		log.Fatal(err) // a *dial.TLSError; its Inspection shows the refused chain
	}
	if insp.Injected > 0 {
		fmt.Printf("STARTTLS injection: %d bytes discarded\n", insp.Injected)
	}
	fmt.Println(insp.Version, insp.CipherSuite, insp.Verified, insp.VerifyError)
	// RFC 3207 §4.2: forget the old EHLO answer and say EHLO again.
	io.WriteString(c, "EHLO client.example\r\n")
}
