// Package render is the one place in smtpsh that writes for people: it
// decides once what the terminal can do (Detect), escapes text from the
// network so it can never drive the terminal (Escape), renders Markdown with
// glamour, and turns explain's values into text.
//
// Other packages hand it values; none of them writes ANSI sequences or
// decides about colour themselves.
package render
