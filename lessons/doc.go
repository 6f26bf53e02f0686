// Package lessons is smtpsh's guided course: the lesson format (Markdown
// with TOML front matter and declarative step checks, see FORMAT.md), the
// engine that checks a lesson's steps on the shell's transcript events as
// they happen, the student's progress on disk, and the lessons themselves,
// embedded from files/.
//
// A lesson runs in the real shell against the lab started in-process with
// the lesson's profile: StartLab starts the lab, NewEngine builds the
// shell.Observer that follows the steps, and shell.New runs the
// conversation with Config.Observer set to the engine.
package lessons
