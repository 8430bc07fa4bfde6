package mmls

import (
	"errors"
	"fmt"
)

// Kinds of failure, matched with errors.Is on what [Engine.Do] returns.
var (
	ErrUsage          = errors.New("mmls: bad command")
	ErrUnknownCommand = errors.New("mmls: unknown command")
	ErrNotInRoom      = errors.New("mmls: not in that room")
	ErrBadName        = errors.New("mmls: invalid name")
	ErrNoSuchPeer     = errors.New("mmls: no such peer")
	ErrAmbiguous      = errors.New("mmls: more than one peer matches")
	ErrSelf           = errors.New("mmls: that is us")
	ErrDirectRoom     = errors.New("mmls: not possible in a direct conversation")
	ErrNotSent        = errors.New("mmls: message not sent")
	ErrStorage        = errors.New("mmls: data directory failure")
	ErrConnect        = errors.New("mmls: cannot connect")
	ErrStopped        = errors.New("mmls: engine stopped")
	ErrFile           = errors.New("mmls: file not sent or saved")
	ErrUnknownFile    = errors.New("mmls: no such file")
	ErrNotAllowed     = errors.New("mmls: not allowed")
)

// Error is a failed command or operation. Text says in plain words what
// went wrong, for people; Kind (one of the Err* values above) and Cause
// are for errors.Is and the log.
type Error struct {
	Kind  error
	Text  string
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return "mmls: " + e.Text + ": " + e.Cause.Error()
	}
	return "mmls: " + e.Text
}

// Unwrap returns the kind and the cause.
func (e *Error) Unwrap() []error {
	out := []error{e.Kind}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	return out
}

// failf is an *Error of kind with plain words.
func failf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Text: fmt.Sprintf(format, args...)}
}

// failWith is failf keeping the cause that led to it.
func failWith(kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Text: fmt.Sprintf(format, args...), Cause: cause}
}

// Describe returns what to tell a person about err: the plain words of an
// [*Error], or a general line (the log file has the whole chain).
func Describe(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Text
	case errors.Is(err, ErrStopped):
		return "the chat engine has stopped"
	}
	return "something went wrong (the log file has the details)"
}
