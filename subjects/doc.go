// Package subjects owns every NATS subject name wsgate builds or checks. It is
// pure naming: no I/O, no dependencies beyond the standard library.
//
// It owns:
//   - validation of literal publish subjects ([ValidateSubject]) and of
//     subscription patterns with the wildcards '*' and '>' ([ValidatePattern]);
//   - matching a subject against a pattern ([Match]) and comparing patterns
//     ([Covers] for the subset relation used by allow lists, [Intersects] for
//     deny lists);
//   - escaping an arbitrary value into exactly one subject token
//     ([EscapeToken], [UnescapeToken]), the main injection defence: a value
//     holding '.', '*', '>' or white space never widens a subject;
//   - subject templates such as "chat.rooms.{body.room}" ([ParseTemplate],
//     [Template.Expand]) whose placeholders are always escaped;
//   - the reserved subject space: the gateway's own prefix, "$"-prefixed
//     system subjects and "_INBOX" ([IsReserved], [TouchesReserved]).
//
// Subject syntax follows NATS (https://docs.nats.io/nats-concepts/subjects):
// a subject is non-empty tokens separated by '.'; in a pattern, '*' as a whole
// token matches exactly one token and '>' as the whole last token matches one
// or more tokens. This package is stricter than the NATS server where being
// strict is safer: it refuses every Unicode white space and control
// character, invalid UTF-8, and '*' or '>' inside a longer token.
//
// A name that cannot be mapped safely is refused with an error wrapping one of
// the sentinel errors below; it is never "cleaned up" into another subject.
package subjects
