package testenv

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/crmsync/crmsync/vendors/apierr"
)

// VendorError checks what a vendor client made of an answer: err is set,
// apierr.Classify puts it in class want, and it holds a vendor error of
// type E (the client's *Error) whose Temporary agrees with that class. It
// returns that vendor error for the vendor's own checks.
func VendorError[E interface {
	error
	Temporary() bool
}](t testing.TB, err error, want apierr.Class) E {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if got := apierr.Classify(err); got != want {
		t.Fatalf("class %v, want %v (%v)", got, want, err)
	}
	var e E
	if !errors.As(err, &e) || e.Temporary() != want.Temporary() {
		t.Fatalf("Temporary() disagrees with the class: %#v", err)
	}
	return e
}

// RefusedAnswer checks the invariant of an answer a vendor client refused
// or could not read: err holds a vendor error of type E (the client's
// *Error) whose message is UTF-8. It returns that vendor error for the
// vendor's own checks.
func RefusedAnswer[E error](t testing.TB, err error) E {
	t.Helper()
	var e E
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not %T", err, err, e)
	}
	if msg := e.Error(); !utf8.ValidString(msg) {
		t.Fatalf("error is not UTF-8: %q", msg)
	}
	return e
}
