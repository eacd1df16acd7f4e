// Credentials never reach the store or a log in clear. What a request or response body says under a key named like a
// secret, a CADF initiator's credential token, and any configured path are replaced by `***` — the key stays, so the
// event still shows that a password was sent. This is oslo's `mask_dict_password` idea (which turns
// keystonemiddleware's credential.token into `***` in the log driver), applied to every format at ingest.
import type { AuditEvent } from './model.ts';
import { isObject } from './validate.ts';

export const MASK = '***';

/** Member names (compared lower-cased) whose values are secrets wherever they appear in a body. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-auth-token',
  'x-subject-token',
  'password',
  'token',
  'secret',
  'apikey',
  'api_key',
  'access_token',
  'refresh_token',
  'client_secret',
]);

type Obj = Record<string, unknown>;

/** Masks every secret-named member at any depth of `root` (without recursion: bodies may nest deeply). */
function maskTree(root: unknown, seen = new Set<unknown>()): void {
  if (root === null || typeof root !== 'object') return;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (seen.has(v)) continue;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (x !== null && typeof x === 'object') stack.push(x);
      }
      continue;
    }
    const o = v as Obj;
    for (const k in o) {
      if (!Object.hasOwn(o, k)) continue;
      const x = o[k];
      if (SECRET_KEYS.has(k.toLowerCase())) {
        if (x !== null && x !== undefined && x !== '') o[k] = MASK;
      } else if (x !== null && typeof x === 'object') {
        stack.push(x);
      }
    }
  }
}

/** pycadf's own mask (`abcd xxxxxxxx wxyz`) or oslo's `***`: already not the token. */
function alreadyMasked(token: string): boolean {
  return token === MASK || token.includes(' xxxxxxxx ');
}

type Segment = string | number | '*';

/** `requestObject.spec.containers[*].env[0].value` → segments; `[*]` is every item. */
export function parseMaskPath(path: string): Segment[] {
  const out: Segment[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[(?:\d+|\*)\])*)$/.exec(part);
    if (!m || (m[1] === '' && m[2] === '')) throw new Error(`invalid mask path ${JSON.stringify(path)}`);
    if (m[1]) out.push(m[1]);
    for (const idx of m[2].matchAll(/\[(\d+|\*)\]/g)) out.push(idx[1] === '*' ? '*' : Number(idx[1]));
  }
  return out;
}

function maskAt(v: unknown, segs: readonly Segment[], i: number): void {
  // Iterative over the path; fans out only at `[*]`.
  let cur = v;
  for (let j = i; j < segs.length; j++) {
    const s = segs[j];
    const last = j === segs.length - 1;
    if (s === '*') {
      if (!Array.isArray(cur)) return;
      for (let n = 0; n < cur.length; n++) {
        if (last) cur[n] = MASK;
        else maskAt(cur[n], segs, j + 1);
      }
      return;
    }
    if (typeof s === 'number') {
      if (!Array.isArray(cur) || s >= cur.length) return;
      if (last) cur[s] = MASK;
      else cur = cur[s];
      continue;
    }
    if (!isObject(cur) || !Object.hasOwn(cur, s)) return;
    if (last) {
      if (cur[s] !== undefined && cur[s] !== null) cur[s] = MASK;
    } else {
      cur = cur[s];
    }
  }
}

/**
 * Masks credentials in `e` in place and returns it: secret-named members anywhere in requestObject,
 * responseObject and the format leftovers in `origin`; the CADF initiator's credential token (unless pycadf already
 * masked it); and each of `extraPaths` (dot paths from the event root, `[n]`/`[*]` for items, e.g.
 * `requestObject.spec.env[*].value`; parse them once with `parseMaskPath` for the hot path).
 */
export function maskCredentials(e: AuditEvent, extraPaths?: readonly (string | readonly Segment[])[]): AuditEvent {
  maskTree(e.requestObject);
  maskTree(e.responseObject);
  const origin = e.origin;
  if (origin) {
    const initiator = origin.cadf?.initiator;
    const skip = new Set<unknown>();
    if (isObject(initiator) && isObject(initiator.credential)) {
      const cred = initiator.credential;
      const token = cred.token;
      if (token !== undefined && token !== null && !(typeof token === 'string' && alreadyMasked(token))) {
        cred.token = MASK;
      }
      // Its other members (identity_status, type) are not secrets, and a pycadf-masked token stays as sent.
      skip.add(cred);
    }
    maskTree(origin, skip);
  }
  if (extraPaths) {
    for (const p of extraPaths) maskAt(e, typeof p === 'string' ? parseMaskPath(p) : p, 0);
  }
  return e;
}
