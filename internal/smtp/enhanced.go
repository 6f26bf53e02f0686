package smtp

import "strconv"

// EnhancedCode is an enhanced mail system status code, class.subject.detail
// (RFC 3463 §2). The zero value means "absent".
type EnhancedCode struct {
	Class, Subject, Detail int
}

// IsZero reports whether the code is absent.
func (c EnhancedCode) IsZero() bool { return c == EnhancedCode{} }

// String formats the code as "5.7.1", or "" for the zero value.
func (c EnhancedCode) String() string {
	if c.IsZero() {
		return ""
	}
	b := make([]byte, 0, 11)
	b = strconv.AppendInt(b, int64(c.Class), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(c.Subject), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(c.Detail), 10)
	return string(b)
}

// ParseEnhancedCode parses "class.subject.detail" as RFC 3463 §2 defines it:
//
//	status-code = class "." subject "." detail
//	class       = "2" / "4" / "5"
//	subject     = 1*3digit
//	detail      = 1*3digit
//
// Leading zeros beyond the digit limits, other classes, and anything around
// the code are rejected.
func ParseEnhancedCode(s string) (EnhancedCode, error) {
	c, n, err := scanEnhancedCode(s)
	if err != nil {
		return EnhancedCode{}, err
	}
	if n != len(s) {
		return EnhancedCode{}, syntaxErr("enhanced status code", n+1, "unexpected %q after the code", s[n:])
	}
	return c, nil
}

// scanEnhancedCode reads an enhanced code at the start of s and returns it and
// the number of bytes it used.
func scanEnhancedCode(s string) (EnhancedCode, int, error) {
	const what = "enhanced status code"
	if s == "" {
		return EnhancedCode{}, 0, syntaxErr(what, 0, "empty")
	}
	switch s[0] {
	case '2', '4', '5':
	default:
		return EnhancedCode{}, 0, syntaxErr(what, 1, "class must be 2, 4 or 5, not %q", s[:1])
	}
	c := EnhancedCode{Class: int(s[0] - '0')}
	i := 1
	for part := 0; part < 2; part++ {
		if i >= len(s) || s[i] != '.' {
			return EnhancedCode{}, 0, syntaxErr(what, i+1, "expected '.' after the %s", [...]string{"class", "subject"}[part])
		}
		i++
		start, v := i, 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if i-start == 3 {
				return EnhancedCode{}, 0, syntaxErr(what, i+1, "%s has more than 3 digits", [...]string{"subject", "detail"}[part])
			}
			v = v*10 + int(s[i]-'0')
			i++
		}
		if i == start {
			return EnhancedCode{}, 0, syntaxErr(what, i+1, "%s must be 1 to 3 digits", [...]string{"subject", "detail"}[part])
		}
		if part == 0 {
			c.Subject = v
		} else {
			c.Detail = v
		}
	}
	return c, i, nil
}
