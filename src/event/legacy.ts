// kube-apiserver's legacy audit log line (`--audit-log-format=legacy`, `EventString` in
// k8s.io/apiserver/pkg/audit/format.go), both ways, byte-exact:
//
//   <T> AUDIT: id="…" stage="…" ip="…" method="…" user="…" groups="…" as="…" asgroups="…" user-agent="…"
//     namespace="…" uri="…" response="…"
//
// Values are Go `%q` strings; `groups`/`asgroups` are each group `%q`-quoted, joined with `,` and quoted again.
// Older apiservers wrote fewer fields: before 1.7 no `stage` (and no `user-agent`), with a second, response-only
// line `<T> AUDIT: id="…" response="200"`; 1.7–1.9 had `stage` but no `user-agent`. The field list a line was
// parsed from is kept in `origin.legacy.fields` (when it is not today's), and the time as written in
// `origin.legacy.timestamp` (when it is not plain UTC), so such lines format back exactly.
//
// Mapping of the older forms: a line without `stage` is stage RequestReceived; the response-only line becomes a
// ResponseComplete event with only auditID, `responseStatus.code` and its time (requestReceivedTimestamp =
// stageTimestamp = the line's time). `decodeEvents` (detect.ts) then fills the rest from the request line with
// the same id when the stream has it. An upper-case HTTP method in `method` (pre-1.7 lines wrote GET, POST …) is
// lower-cased into `verb` (Kubernetes' verb for non-resource requests) and the original kept.
import type { AuditEvent } from './model.ts';
import { isStage, STAGES } from './model.ts';
import { parseTimeMs, toMicroTime, toRfc3339Nano } from './time.ts';
import { EventValidationError } from './validate.ts';

/** Today's field order (Kubernetes ≥ 1.10). */
export const LEGACY_FIELDS = [
  'id',
  'stage',
  'ip',
  'method',
  'user',
  'groups',
  'as',
  'asgroups',
  'user-agent',
  'namespace',
  'uri',
  'response',
] as const;
type LegacyField = (typeof LEGACY_FIELDS)[number];
const KNOWN = new Set<string>(LEGACY_FIELDS);

// ---- Go %q ------------------------------------------------------------------------------------------------

const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const HEX2 = /^[0-9a-fA-F]{2}$/;
const OCTAL3 = /^[0-7]{3}$/;
const HEX = /^[0-9a-fA-F]+$/;
const INTEGER = /^-?\d+$/;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Go's `strconv.Quote` (what `%q` prints for a string): printable runes as is, others escaped. */
export function goQuote(s: string): string {
  if (PLAIN.test(s)) return `"${s}"`;
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp === 7) out += '\\a';
    else if (cp === 8) out += '\\b';
    else if (cp === 12) out += '\\f';
    else if (cp === 10) out += '\\n';
    else if (cp === 13) out += '\\r';
    else if (cp === 9) out += '\\t';
    else if (cp === 11) out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
    else if (cp >= 0xd800 && cp <= 0xdfff)
      out += '\\ufffd'; // a lone surrogate is invalid UTF-8 to Go
    else if (cp >= 0x80 && PRINTABLE.test(ch)) out += ch;
    else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
    else out += `\\U${hex(cp, 8)}`;
  }
  return `${out}"`;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
};

/**
 * Go's `strconv.Unquote` for a double-quoted string starting at `s[start]`. Returns the value and the index after
 * the closing quote. `\xNN` and octal escapes are bytes; runs of them are decoded as UTF-8.
 */
export function goUnquote(s: string, start: number, field: string): { value: string; end: number } {
  if (s[start] !== '"') throw new EventValidationError(field, 'expected a double-quoted value');
  let out = '';
  let bytes: number[] | undefined;
  const flush = () => {
    if (bytes) {
      out += Buffer.from(bytes).toString('utf8');
      bytes = undefined;
    }
  };
  let i = start + 1;
  for (;;) {
    if (i >= s.length) throw new EventValidationError(field, 'unterminated quoted value');
    const c = s[i];
    if (c === '"') {
      flush();
      return { value: out, end: i + 1 };
    }
    if (c === '\n') throw new EventValidationError(field, 'newline inside a quoted value');
    if (c !== '\\') {
      flush();
      // Copy a run of ordinary characters at once.
      let j = i + 1;
      while (j < s.length && s[j] !== '"' && s[j] !== '\\' && s[j] !== '\n') j++;
      out += s.slice(i, j);
      i = j;
      continue;
    }
    const e = s[i + 1];
    if (e === undefined) throw new EventValidationError(field, 'unterminated escape');
    if (e in SIMPLE_ESCAPES) {
      flush();
      out += SIMPLE_ESCAPES[e];
      i += 2;
    } else if (e === 'x' || (e >= '0' && e <= '7')) {
      const digits = e === 'x' ? s.slice(i + 2, i + 4) : s.slice(i + 1, i + 4);
      const ok = e === 'x' ? HEX2.test(digits) : OCTAL3.test(digits);
      const n = ok ? Number.parseInt(digits, e === 'x' ? 16 : 8) : 256;
      if (n > 255) throw new EventValidationError(field, `bad escape \\${e === 'x' ? 'x' : ''}${digits}`);
      bytes ??= [];
      bytes.push(n);
      i += 4;
    } else if (e === 'u' || e === 'U') {
      const len = e === 'u' ? 4 : 8;
      const digits = s.slice(i + 2, i + 2 + len);
      const cp = HEX.test(digits) && digits.length === len ? Number.parseInt(digits, 16) : -1;
      if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        throw new EventValidationError(field, `bad escape \\${e}${digits}`);
      }
      flush();
      out += String.fromCodePoint(cp);
      i += 2 + len;
    } else {
      throw new EventValidationError(field, `unknown escape \\${e}`);
    }
  }
}

/** `%q` of each group joined with `,` — the inner form of `groups=`. */
function quoteList(list: readonly string[]): string {
  return list.map(goQuote).join(',');
}

function unquoteList(s: string, field: string): string[] {
  const out: string[] = [];
  if (s === '') return out;
  let i = 0;
  for (;;) {
    const r = goUnquote(s, i, field);
    out.push(r.value);
    if (r.end === s.length) return out;
    if (s[r.end] !== ',') throw new EventValidationError(field, 'expected "," between quoted groups');
    i = r.end + 1;
  }
}

// ---- format -----------------------------------------------------------------------------------------------

function isResponseOnly(fields: readonly string[]): boolean {
  return fields.length === 2 && fields[0] === 'id' && fields[1] === 'response';
}

export interface LegacyFormatOptions {
  /**
   * Zone the time is written in when the line's original text is not kept: `utc` (default), `local` (the process's
   * zone, as a kube-apiserver writes it on a host not set to UTC), or a fixed offset in minutes east of UTC.
   */
  zone?: 'utc' | 'local' | number;
}

/**
 * kube-apiserver's `EventString(ev)`: one line, no trailing newline (the log writer adds it). Events parsed from
 * an older form keep that form (`origin.legacy.fields`); the time is requestReceivedTimestamp in RFC3339Nano (the
 * response-only old form: the time of the response, stageTimestamp), written as originally when it still
 * denotes the same instant, else in `opts.zone`.
 */
export function formatLegacyLine(e: AuditEvent, opts: LegacyFormatOptions = {}): string {
  const legacy = e.origin?.legacy;
  const fields = (legacy?.fields as readonly string[] | undefined) ?? LEGACY_FIELDS;
  const ts = isResponseOnly(fields) ? e.stageTimestamp : e.requestReceivedTimestamp;
  const raw = legacy?.timestamp;
  let t: string;
  if (typeof raw === 'string' && safeMicro(raw) === ts) t = raw;
  else t = inZone(ts, opts.zone ?? 'utc');
  let line = `${t} AUDIT:`;
  for (const f of fields) line += ` ${f}=${fieldValue(e, f as LegacyField)}`;
  return line;
}

/** Go's RFC3339Nano of a MicroTime shown in a zone: `Z` for UTC, else the wall time and `±HH:MM`. */
function inZone(micro: string, zone: 'utc' | 'local' | number): string {
  if (zone === 'utc' || zone === 0) return toRfc3339Nano(micro);
  const ms = parseTimeMs(micro);
  const offset = zone === 'local' ? -new Date(ms).getTimezoneOffset() : zone;
  if (offset === 0) return toRfc3339Nano(micro);
  const wall = toRfc3339Nano(`${new Date(ms + offset * 60000).toISOString().slice(0, 19)}${micro.slice(19)}`);
  const abs = Math.abs(offset);
  const hhmm = `${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${wall.slice(0, -1)}${offset < 0 ? '-' : '+'}${hhmm}`;
}

function safeMicro(s: string): string | undefined {
  try {
    return toMicroTime(s);
  } catch {
    return undefined;
  }
}

function fieldValue(e: AuditEvent, f: LegacyField): string {
  const username = e.user?.username;
  switch (f) {
    case 'id':
      return goQuote(e.auditID);
    case 'stage':
      return goQuote(e.stage);
    case 'ip':
      return goQuote(e.sourceIPs?.[0] ?? '<unknown>');
    case 'method': {
      const m = e.origin?.legacy?.method;
      return goQuote(typeof m === 'string' && m.toLowerCase() === e.verb ? m : e.verb);
    }
    case 'user':
      return goQuote(username || '<none>');
    case 'groups':
      return goQuote(username && e.user.groups?.length ? quoteList(e.user.groups) : '<none>');
    case 'as':
      return goQuote(e.impersonatedUser ? (e.impersonatedUser.username ?? '') : '<self>');
    case 'asgroups': {
      const g = e.impersonatedUser?.groups;
      return goQuote(g ? quoteList(g) : '<lookup>');
    }
    case 'user-agent':
      return goQuote(e.userAgent ?? '');
    case 'namespace':
      return goQuote(e.objectRef?.namespace || '<none>');
    case 'uri':
      return goQuote(e.requestURI);
    case 'response':
      // Written in literal quotes, not %q (it is a number or <deferred>).
      return e.responseStatus ? `"${Math.trunc(e.responseStatus.code ?? 0)}"` : '"<deferred>"';
  }
}

// ---- parse ------------------------------------------------------------------------------------------------

const MARK = ' AUDIT: ';
const HTTP_METHOD = /^[A-Z]+$/;

/** One legacy line (today's, the 1.7–1.9 form without user-agent, or the pre-1.7 two-line form) → AuditEvent. */
export function parseLegacyLine(line: string): AuditEvent {
  const text = line.endsWith('\n') ? line.slice(0, line.endsWith('\r\n') ? -2 : -1) : line;
  const mark = text.indexOf(MARK);
  if (mark <= 0) throw new EventValidationError('', 'not a legacy audit line (expected "<time> AUDIT: id=…")');
  const t = text.slice(0, mark);
  let rrt: string;
  try {
    rrt = toMicroTime(t);
  } catch (err) {
    throw new EventValidationError('timestamp', (err as Error).message);
  }

  const values = new Map<string, string>();
  const fields: string[] = [];
  let i = mark + MARK.length;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new EventValidationError('', `expected key="value" at column ${i + 1}`);
    const key = text.slice(i, eq);
    if (!KNOWN.has(key)) throw new EventValidationError(key, 'unknown legacy audit field');
    if (values.has(key)) throw new EventValidationError(key, 'appears twice');
    const { value, end } = goUnquote(text, eq + 1, key);
    values.set(key, value);
    fields.push(key);
    if (end < text.length && text[end] !== ' ') {
      throw new EventValidationError(key, `expected a space after the value at column ${end + 1}`);
    }
    i = end + 1;
  }

  const auditID = values.get('id');
  if (!auditID) throw new EventValidationError('id', 'required');
  const responseOnly = isResponseOnly(fields);
  const stageText = values.get('stage');
  let stage: AuditEvent['stage'];
  if (stageText === undefined) stage = responseOnly ? 'ResponseComplete' : 'RequestReceived';
  else if (isStage(stageText)) stage = stageText;
  else throw new EventValidationError('stage', `${JSON.stringify(stageText)} is not one of ${STAGES.join(', ')}`);

  const method = values.get('method') ?? '';
  const verb = HTTP_METHOD.test(method) ? method.toLowerCase() : method;
  const e = {
    level: 'Metadata',
    auditID,
    stage,
    requestURI: values.get('uri') ?? '',
    verb,
    user: {},
  } as AuditEvent;

  const user = values.get('user');
  if (user !== undefined && user !== '<none>') {
    e.user.username = user;
    const groups = values.get('groups');
    if (groups !== undefined && groups !== '<none>') e.user.groups = unquoteList(groups, 'groups');
  }
  const as = values.get('as');
  if (as !== undefined && as !== '<self>') {
    e.impersonatedUser = { username: as };
    const asgroups = values.get('asgroups');
    if (asgroups !== undefined && asgroups !== '<lookup>') {
      e.impersonatedUser.groups = unquoteList(asgroups, 'asgroups');
    }
  }
  const ip = values.get('ip');
  if (ip !== undefined && ip !== '<unknown>') e.sourceIPs = [ip];
  const ua = values.get('user-agent');
  if (ua) e.userAgent = ua;
  const ns = values.get('namespace');
  if (ns !== undefined && ns !== '<none>') e.objectRef = { namespace: ns };
  const response = values.get('response');
  if (response !== undefined && response !== '<deferred>') {
    if (!INTEGER.test(response)) {
      throw new EventValidationError('response', `${JSON.stringify(response)} is not a status code or <deferred>`);
    }
    e.responseStatus = { metadata: {}, code: Number(response) };
  }
  e.requestReceivedTimestamp = rrt;
  e.stageTimestamp = rrt;
  e.source = 'kubernetes';

  const legacy: Record<string, unknown> = {};
  if (t !== toRfc3339Nano(rrt)) legacy.timestamp = t;
  if (fields.length !== LEGACY_FIELDS.length || fields.some((f, k) => f !== LEGACY_FIELDS[k])) legacy.fields = fields;
  if (verb !== method) legacy.method = method;
  if (Object.keys(legacy).length > 0) e.origin = { legacy };
  return e;
}
