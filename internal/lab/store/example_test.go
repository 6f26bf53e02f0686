package store_test

import (
	"fmt"

	"github.com/smtpsh/smtpsh/internal/lab/store"
)

// The lab delivers a message for the list team (alice and bob) and reads
// alice's mailbox back.
func ExampleStore_Deliver() {
	s, err := store.New("") // memory only; give a directory for Maildir
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	m := &store.Message{
		From:      "bob@lab.smtpsh.test",
		To:        []string{"team@lab.smtpsh.test"},
		Mailboxes: []string{"alice", "bob"},
		Data:      []byte("Subject: lunch\r\n\r\nPizza at noon.\r\n"),
	}
	if err := s.Deliver(m); err != nil {
		fmt.Println("451:", err) // the lab answers 451 4.3.0, never 250
		return
	}
	for _, got := range s.Mailbox("alice") {
		fmt.Printf("alice has a message from %s: %q\n", got.From, got.Data)
	}
	fmt.Println("delivered:", s.Count(), "relayed:", len(s.Relayed()))
	fmt.Println(store.ValidMailbox("../etc"))
	// Output:
	// alice has a message from bob@lab.smtpsh.test: "Subject: lunch\r\n\r\nPizza at noon.\r\n"
	// delivered: 1 relayed: 0
	// store: mailbox name "../etc": starts with '.' (dot-files and .. are reserved) at column 1
}
