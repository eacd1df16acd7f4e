// Timestamps. The canonical form is Kubernetes MicroTime: UTC, exactly six fraction digits, `Z`
// (`2006-01-02T15:04:05.000000Z`). Producers write many variants (RFC 3339 with any offset and fraction length,
// pycadf's `+0000`, oslo's naive `YYYY-MM-DD HH:MM:SS[.ffffff]`), so everything goes through one parser here.

/** Parsed instant: whole seconds since the epoch plus the microseconds within that second (0–999999). */
interface Instant {
  sec: number;
  micro: number;
}

const DIGIT0 = 48;

function isDigit(c: number): boolean {
  return c >= DIGIT0 && c <= DIGIT0 + 9;
}

function num(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!isDigit(c)) return -1;
    n = n * 10 + (c - DIGIT0);
  }
  return n;
}

/** True when `s` is already canonical MicroTime; cheap enough for the per-event decode path. */
export function isMicroTime(s: string): boolean {
  if (s.length !== 27) return false;
  for (let i = 0; i < 26; i++) {
    const c = s.charCodeAt(i);
    switch (i) {
      case 4:
      case 7:
        if (c !== 45) return false; // -
        break;
      case 10:
        if (c !== 84) return false; // T
        break;
      case 13:
      case 16:
        if (c !== 58) return false; // :
        break;
      case 19:
        if (c !== 46) return false; // .
        break;
      default:
        if (!isDigit(c)) return false;
    }
  }
  if (s.charCodeAt(26) !== 90) return false; // Z
  const mo = (s.charCodeAt(5) - DIGIT0) * 10 + (s.charCodeAt(6) - DIGIT0);
  const h = (s.charCodeAt(11) - DIGIT0) * 10 + (s.charCodeAt(12) - DIGIT0);
  const mi = (s.charCodeAt(14) - DIGIT0) * 10 + (s.charCodeAt(15) - DIGIT0);
  const se = (s.charCodeAt(17) - DIGIT0) * 10 + (s.charCodeAt(18) - DIGIT0);
  const d = (s.charCodeAt(8) - DIGIT0) * 10 + (s.charCodeAt(9) - DIGIT0);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return false;
  return d <= 28 || d <= daysInMonth(num(s, 0, 4), mo);
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(y: number, m: number): number {
  if (m === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)) return 29;
  return MONTH_DAYS[m - 1];
}

/**
 * Parses RFC 3339 (`T`/`t`/space separator, any fraction length, `Z`/`z`/`±HH:MM`/`±HHMM`) and the naive
 * `YYYY-MM-DD HH:MM:SS[.f]` form (no zone = UTC, as oslo writes it). Returns undefined when `s` is none of these.
 */
function parseInstant(s: string): Instant | undefined {
  if (s.length < 19) return undefined;
  const y = num(s, 0, 4);
  const mo = num(s, 5, 7);
  const d = num(s, 8, 10);
  const h = num(s, 11, 13);
  const mi = num(s, 14, 16);
  const se = num(s, 17, 19);
  const sep = s[10];
  if (
    y < 0 ||
    mo < 1 ||
    mo > 12 ||
    d < 1 ||
    h < 0 ||
    h > 23 ||
    mi < 0 ||
    mi > 59 ||
    se < 0 ||
    se > 59 ||
    s[4] !== '-' ||
    s[7] !== '-' ||
    (sep !== 'T' && sep !== 't' && sep !== ' ') ||
    s[13] !== ':' ||
    s[16] !== ':' ||
    d > daysInMonth(y, mo)
  ) {
    return undefined;
  }
  let i = 19;
  let micro = 0;
  if (s[i] === '.') {
    i++;
    const start = i;
    while (i < s.length && isDigit(s.charCodeAt(i))) i++;
    if (i === start) return undefined;
    // Truncate (never round) to microseconds, as Go's formatting of a nanosecond time to MicroTime does.
    const frac = `${s.slice(start, Math.min(i, start + 6))}000000`.slice(0, 6);
    micro = Number(frac);
  }
  let offsetMin = 0;
  const z = s[i];
  if (i === s.length) {
    // Naive time: UTC (oslo's str(datetime.utcnow())).
  } else if ((z === 'Z' || z === 'z') && i + 1 === s.length) {
    // UTC
  } else if (z === '+' || z === '-') {
    const rest = s.slice(i + 1);
    let oh: number;
    let om: number;
    if (rest.length === 5 && rest[2] === ':') {
      oh = num(rest, 0, 2);
      om = num(rest, 3, 5);
    } else if (rest.length === 4) {
      oh = num(rest, 0, 2);
      om = num(rest, 2, 4);
    } else {
      return undefined;
    }
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return undefined;
    offsetMin = (z === '-' ? -1 : 1) * (oh * 60 + om);
  } else {
    return undefined;
  }
  // Date.UTC maps years 0–99 to 1900–1999; setUTCFullYear does not.
  const date = new Date(Date.UTC(2000, mo - 1, d, h, mi, se));
  date.setUTCFullYear(y);
  const sec = date.getTime() / 1000 - offsetMin * 60;
  return { sec, micro };
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function instantOf(input: string | number | Date, what: string): Instant {
  if (typeof input === 'string') {
    const t = parseInstant(input);
    if (!t) {
      throw new Error(
        `${JSON.stringify(input)} is not a timestamp (expected RFC 3339 like 2006-01-02T15:04:05.000000Z, or YYYY-MM-DD HH:MM:SS[.ffffff])`,
      );
    }
    return t;
  }
  const ms = typeof input === 'number' ? input : input instanceof Date ? input.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw new Error(`${what}: not a valid time (${String(input)})`);
  const sec = Math.floor(ms / 1000);
  return { sec, micro: Math.round((ms - sec * 1000) * 1000) };
}

/** `YYYY-MM-DDTHH:MM:SS` of an instant, UTC. */
function isoSeconds(sec: number): string {
  const iso = new Date(sec * 1000).toISOString();
  if (iso.length !== 24) throw new Error(`time out of range: ${iso}`);
  return iso.slice(0, 19);
}

/**
 * Any accepted timestamp (string forms above, epoch milliseconds, Date) → MicroTime
 * `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC. Fractions beyond microseconds are truncated. Throws on anything else.
 */
export function toMicroTime(input: string | number | Date): string {
  if (typeof input === 'string' && isMicroTime(input)) return input;
  const t = instantOf(input, 'toMicroTime');
  return `${isoSeconds(t.sec)}.${pad(t.micro, 6)}Z`;
}

/** Epoch milliseconds of a timestamp string (any form `toMicroTime` accepts); throws a clear error, never NaN. */
export function parseTimeMs(s: string): number {
  if (typeof s !== 'string') throw new Error(`parseTimeMs: expected a string, got ${typeof s}`);
  const t = instantOf(s, 'parseTimeMs');
  return t.sec * 1000 + Math.floor(t.micro / 1000);
}

/**
 * Epoch microseconds of a timestamp string, exactly (the fraction's digits, not a rounded double): what the stores
 * keep and order by. NaN when `s` is not a timestamp.
 */
export function parseTimeMicros(s: string): number {
  const t = typeof s === 'string' ? parseInstant(s) : undefined;
  return t ? t.sec * 1_000_000 + t.micro : Number.NaN;
}

// The accepted time range, the same on every way in (ingest, import, AMQP) and for query times: from the Unix epoch
// (stores keep epoch µs; no audit trail predates 1970) to now plus a clock-skew allowance (a producer whose clock
// runs a little fast is not refused; a year-9999 time, which once overflowed the stores' integers, is).

/** Default allowance for producers' clocks running ahead of the collector's (`ingest.limits.maxClockSkew`). */
export const DEFAULT_CLOCK_SKEW_MS = 3_600_000;

/**
 * Why epoch milliseconds `ms` are outside the accepted range [1970-01-01, now + `skewMs`], or undefined when they
 * are inside.
 */
export function timeRangeProblem(ms: number, skewMs: number, now: number = Date.now()): string | undefined {
  if (!Number.isFinite(ms)) return 'is not a time';
  if (ms < 0) return 'is before 1970-01-01T00:00:00Z, the earliest accepted time';
  if (ms > now + skewMs)
    return `is later than now plus the clock-skew allowance of ${skewMs / 1000} s (ingest.limits.maxClockSkew), the latest accepted time`;
  return undefined;
}

/** MicroTime → pycadf's `YYYY-MM-DDTHH:MM:SS.ffffff+0000`. */
export function toCadfTime(micro: string): string {
  return `${toMicroTime(micro).slice(0, 26)}+0000`;
}

/** MicroTime → oslo's naive `str(datetime)`: space separator, no zone, fraction left out when it is zero. */
export function toOsloTime(micro: string): string {
  const m = toMicroTime(micro);
  const frac = m.slice(20, 26);
  return `${m.slice(0, 10)} ${m.slice(11, 19)}${frac === '000000' ? '' : `.${frac}`}`;
}

/** MicroTime → Go's RFC3339Nano of a UTC time: trailing fraction zeros trimmed, no fraction when zero. */
export function toRfc3339Nano(micro: string): string {
  const m = toMicroTime(micro);
  const frac = m.slice(20, 26).replace(/0+$/, '');
  return `${m.slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
}
