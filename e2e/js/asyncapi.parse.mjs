// Parses an AsyncAPI document with the official parser (@asyncapi/parser),
// as e2e/asyncapi_test.go runs it: node asyncapi.parse.mjs FILE.
//
// Every diagnostic is printed to stderr, one per line, with its severity,
// path and message. The exit status is 1 when the document could not be
// parsed or has any diagnostic of error severity; otherwise 0, and stdout
// is a JSON summary: the ids of the channels, operations and servers, the
// channels' addresses, and the number of warnings.
import { readFileSync } from 'node:fs';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const file = process.argv[2];
if (!file) {
  console.error('usage: node asyncapi.parse.mjs FILE');
  process.exit(2);
}
const names = ['error', 'warning', 'information', 'hint'];
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(file, 'utf8'));
let errors = 0;
let warnings = 0;
for (const d of diagnostics) {
  if (d.severity === DiagnosticSeverity.Error) errors++;
  if (d.severity === DiagnosticSeverity.Warning) warnings++;
  console.error(`${names[d.severity] ?? d.severity}: ${d.code} at /${(d.path ?? []).join('/')}: ${d.message}`);
}
if (!document || errors > 0) {
  console.error(`${errors} error(s): the document is not valid AsyncAPI`);
  process.exit(1);
}
const channels = {};
for (const c of document.channels().all()) channels[c.id()] = c.address() ?? null;
console.log(JSON.stringify({
  version: document.version(),
  channels,
  operations: document.operations().all().map((o) => `${o.id()}:${o.action()}`).sort(),
  servers: document.servers().all().map((s) => s.id()).sort(),
  warnings,
}));
