package subjects

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, with context saying which part of the input is wrong.
var (
	// ErrInvalidSubject reports a string that is not a literal publish subject.
	ErrInvalidSubject = errors.New("subjects: invalid subject")

	// ErrInvalidPattern reports a string that is not a subscription pattern.
	ErrInvalidPattern = errors.New("subjects: invalid pattern")

	// ErrEmptyValue reports an empty value where one token is needed: an
	// empty subject token cannot be produced.
	ErrEmptyValue = errors.New("subjects: empty value")

	// ErrValueTooLong reports a value whose escaped form exceeds MaxTokenLen,
	// or an expansion longer than MaxSubjectLen.
	ErrValueTooLong = errors.New("subjects: value too long")

	// ErrInvalidEscape reports a token that EscapeToken could not have
	// produced, so UnescapeToken refuses it.
	ErrInvalidEscape = errors.New("subjects: invalid escaped token")

	// ErrInvalidTemplate reports a template that does not parse.
	ErrInvalidTemplate = errors.New("subjects: invalid template")

	// ErrMissingValue reports a template placeholder with no value.
	ErrMissingValue = errors.New("subjects: missing value")
)
