package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
)

// Exit codes, so scripts can tell failures apart. exitCodes below is the
// one table of them: README.md's "Exit codes" table is checked against it
// (TestExitCodes_Documented). A user's mistake never exits 1.
const (
	exitOK          = 0
	exitInternal    = 1   // a bug or an unexpected failure
	exitUsage       = 2   // unknown command or flag, wrong arguments, a bad filter value
	exitInvalid     = 3   // input or configuration rejected (EINVALID, ECONFLICT, a config file, an address in use)
	exitNotFound    = 4   // ENOTFOUND
	exitAuth        = 5   // EUNAUTHORIZED, EFORBIDDEN, a missing API key, a missing, malformed or wrong secret key
	exitUnavail     = 6   // EUNAVAILABLE: the server, database or WeChat did not answer; retry later
	exitUndelivered = 7   // send --wait or broadcast saw a message end undelivered
	exitTimeout     = 8   // send --wait --timeout ran out before the message ended
	exitInterrupted = 130 // stopped by SIGINT/SIGTERM before it finished (a second one exits at once)
)

// exitCodes documents each code: its name (the "code" of a JSON error when
// the error carries no domain code) and what it means.
var exitCodes = []struct {
	code       int
	name, text string
}{
	{exitOK, "ok", "success"},
	{exitInternal, "internal", "an unexpected failure (a bug, or an error the message explains); never a mistake in the command"},
	{exitUsage, "usage", "unknown command or flag, missing or extra arguments, a bad flag or filter value (`messages ls --state bogus`)"},
	{exitInvalid, "invalid", "input rejected or in conflict; a configuration problem (a missing or wrong `--config` file, a bad value, the listen address in use)"},
	{exitNotFound, "not_found", "the app, message, key or template does not exist"},
	{exitAuth, "unauthorized", "credentials: a missing or wrong API key; the secret key missing, malformed, or not the one that sealed the stored secrets"},
	{exitUnavail, "unavailable", "the server, the database or WeChat did not answer: retry later"},
	{exitUndelivered, "undelivered", "`send --wait` or `broadcast`: not every message was delivered"},
	{exitTimeout, "timeout", "`send --wait --timeout`: the time ran out before the message ended (it may still be delivered)"},
	{exitInterrupted, "interrupted", "stopped by Ctrl-C or SIGTERM before it finished; a second signal exits at once"},
}

type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// keyError is a secret key that is missing, unreadable or malformed.
type keyError struct{ error }

func (e keyError) Unwrap() error { return e.error }

// authError is a missing credential of the CLI itself (no API key).
type authError struct{ error }

func (e authError) Unwrap() error { return e.error }

// timeoutError: a --timeout ran out.
type timeoutError struct{ error }

func (e timeoutError) Unwrap() error { return e.error }

// undeliveredError reports messages that ended undelivered.
type undeliveredError struct{ msg string }

func (e undeliveredError) Error() string { return e.msg }

// exitCode is the exit code of err; interrupted says whether the run was
// cancelled by a signal.
func exitCode(err error, interrupted bool) int {
	var (
		ue usageError
		nd undeliveredError
		ke keyError
		ae authError
		te timeoutError
	)
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &nd):
		return exitUndelivered
	case errors.As(err, &te):
		return exitTimeout
	case errors.As(err, &ke), errors.As(err, &ae), errors.Is(err, seal.ErrNoKey), errors.Is(err, seal.ErrWrongKey):
		return exitAuth
	case interrupted && errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, syscall.EADDRINUSE), errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EACCES):
		return exitInvalid // the listen address is the configuration's
	}
	switch wxnotify.ErrorCode(err) {
	case wxnotify.EINVALID, wxnotify.ECONFLICT:
		return exitInvalid
	case wxnotify.ENOTFOUND:
		return exitNotFound
	case wxnotify.EUNAUTHORIZED, wxnotify.EFORBIDDEN:
		return exitAuth
	case wxnotify.EUNAVAILABLE, wxnotify.ERATELIMIT:
		return exitUnavail
	}
	return exitInternal
}

// exitName is the name of code in exitCodes.
func exitName(code int) string {
	for _, c := range exitCodes {
		if c.code == code {
			return c.name
		}
	}
	return "internal"
}

// userMessage prints domain errors without the Go-internal prefix, and
// names the listen address a port-in-use error is about.
func userMessage(err error) string {
	var e *wxnotify.Error
	if errors.As(err, &e) {
		if e.Field != "" {
			return e.Field + ": " + e.Message
		}
		return e.Message
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return err.Error() + " (another process listens there: stop it, or choose another address, e.g. --addr 127.0.0.1:0)"
	}
	return err.Error()
}

// writeError prints err for the user: a line of text, or under --json the
// API's error body with the exit code, so a script reads one shape.
func writeError(w io.Writer, err error, code int, asJSON bool) {
	if !asJSON {
		fmt.Fprintln(w, "error:", userMessage(err))
		return
	}
	body := wxnotify.ErrorBody{Code: exitName(code), Message: userMessage(err)}
	var e *wxnotify.Error
	if errors.As(err, &e) {
		body.Code, body.Message, body.Field = e.Code, e.Message, e.Field
	}
	_ = writeJSON(w, struct {
		Error    wxnotify.ErrorBody `json:"error"`
		ExitCode int                `json:"exit_code"`
	}{body, code})
}

// onSignals turns the first SIGINT/SIGTERM into cancel (commands stop
// cleanly: serve finishes its sends in flight) and a second one into an
// immediate exit, for when the clean stop takes too long.
func onSignals(sigs <-chan os.Signal, cancel func(), stderr io.Writer, exit func(int)) {
	s, ok := <-sigs
	if !ok {
		return
	}
	fmt.Fprintf(stderr, "wxnotify: %v: stopping; send it again to exit at once\n", s)
	cancel()
	if s, ok = <-sigs; ok {
		fmt.Fprintf(stderr, "wxnotify: %v again: exiting without waiting\n", s)
		exit(exitInterrupted)
	}
}
