package explain

import (
	"fmt"
	"sort"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// EnhancedStatus is what an enhanced mail system status code means
// (RFC 3463; registry of RFC 5248).
type EnhancedStatus struct {
	// Code is the code explained. Class 0 stands for "X", any class, as the
	// registry writes its entries.
	Code smtp.EnhancedCode
	// Registered reports whether subject.detail is in the registry.
	Registered bool
	Name       string // the registry's short name; "" when not Registered
	// Basic lists the basic reply codes the registry associates with the
	// code; AnyBasic is set when it says "any".
	Basic     []int
	AnyBasic  bool
	Reference string
	Meaning   string // in plain words; for unregistered codes, what the digits say
	Class     Digit  // zero Digit for class X
	Subject   Digit  // Name is "" for a subject RFC 3463 does not define
}

// CodeString formats Code, with "X" for class 0.
func (e EnhancedStatus) CodeString() string {
	if e.Code.Class == 0 {
		return fmt.Sprintf("X.%d.%d", e.Code.Subject, e.Code.Detail)
	}
	return e.Code.String()
}

// Enhanced explains an enhanced status code. A class of 0 means "X": the
// entry for every class. Unregistered codes are explained by their class and
// subject (RFC 3463 §2, §3).
func (kb *KB) Enhanced(c smtp.EnhancedCode) EnhancedStatus {
	es, ok := kb.enhanced[[2]int{c.Subject, c.Detail}]
	if !ok {
		es = EnhancedStatus{Reference: "RFC 3463 §2"}
	}
	es.Code = c
	es.Class = kb.encClasses[c.Class]
	es.Subject = kb.subjects[c.Subject]
	if es.Subject.Name == "" {
		es.Subject.Value = c.Subject
	}
	if !ok {
		es.Meaning = kb.unregistered(es)
	}
	return es
}

func (kb *KB) unregistered(es EnhancedStatus) string {
	s := fmt.Sprintf("%s is not in the registry of enhanced status codes.", es.CodeString())
	if es.Class.Name != "" {
		s += fmt.Sprintf(" Class %d means %s: %s.", es.Class.Value, es.Class.Name, es.Class.Meaning)
	}
	if es.Subject.Name != "" {
		s += fmt.Sprintf(" Subject %d means %s: %s.", es.Subject.Value, es.Subject.Name, es.Subject.Meaning)
	} else {
		s += fmt.Sprintf(" Subject %d is not defined by RFC 3463 (subjects are 0 to 7).", es.Subject.Value)
	}
	return s
}

// EnhancedCount is the number of registry entries (subject.detail pairs) in
// the knowledge base.
func (kb *KB) EnhancedCount() int { return len(kb.enhanced) }

// EnhancedCodes lists every registered entry with class 0 ("X"), for tests
// and listings, in subject.detail order.
func (kb *KB) EnhancedCodes() []smtp.EnhancedCode {
	cs := make([]smtp.EnhancedCode, 0, len(kb.enhanced))
	for k := range kb.enhanced {
		cs = append(cs, smtp.EnhancedCode{Subject: k[0], Detail: k[1]})
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Subject != cs[j].Subject {
			return cs[i].Subject < cs[j].Subject
		}
		return cs[i].Detail < cs[j].Detail
	})
	return cs
}
