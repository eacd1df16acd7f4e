// Credentials never reach the store or a log in clear. What a request or response body says under a key named like a
// secret, a CADF initiator's credential token, and any configured path are replaced by `***` — the key stays, so the
// event still shows that a password was sent. This is oslo's `mask_dict_password` idea (which turns
// keystonemiddleware's credential.token into `***` in the log driver), applied to every format at ingest. Secrets
// also hide inside strings and pairs: a request URI's `?access_token=…` (every format's URL or path is the
// requestURI) and the arguments of `kubectl exec`, which travel in it (`?command=--token%3D…`, kubernetes#97795), a
// header list's `{"name": "Authorization", "value": …}`, an environment's `{"name": "DB_PASSWORD", "value": …}`, an
// annotation's `Bearer …`. And a Kubernetes Secret's values are secrets under any key: its `data` and `stringData`
// are masked wherever it appears (bodies, lists, kubectl's last-applied-configuration). The collector masks every
// event it ingests and the capture middleware every event it writes, both with `maskCredentials`.
import type { AuditEvent } from './model.ts';
import { isObject } from './validate.ts';

export const MASK = '***';

/** A value worth masking: an empty or missing one stays as it is (it shows that nothing was sent). */
function present(v: unknown): boolean {
  return v !== null && v !== undefined && v !== '';
}

type Obj = Record<string, unknown>;

/** A value masked while recording: where it was (container and member) and what it was. */
export type MaskedValue = [container: object, member: string | number, original: unknown];

/**
 * Where the values masked now are recorded: set by `maskCredentials` with `onMasked` while it masks the bodies (and
 * the configured paths), else undefined. Module state rather than a parameter of every function above: masking is
 * synchronous, and the hot path (nothing recorded) then pays one test per masked value only.
 */
let recording: MaskedValue[] | undefined;

/** `o[k] = v`, recording the value replaced when it changes (one already `***` is not a value of its own). */
function put(o: object, k: string | number, v: unknown): void {
  const c = o as Record<string | number, unknown>;
  const old = c[k];
  if (recording && old !== v && old !== MASK) recording.push([o, k, old]);
  c[k] = v;
}

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
  'x-api-key',
  'api-key',
]);

/**
 * Query parameter names (compared percent-decoded and lower-cased) whose values are secrets: the secret member
 * names, and the signatures and session tokens of pre-signed URLs (S3, GCS, Azure SAS) and OAuth's id_token.
 */
export const SECRET_PARAMS: ReadonlySet<string> = new Set([
  ...SECRET_KEYS,
  'id_token',
  'sig',
  'signature',
  'x-amz-signature',
  'x-amz-security-token',
  'x-goog-signature',
]);

/**
 * How names that are secrets whatever precedes them end: `DB_PASSWORD`, `GITHUB_TOKEN`, `clientSecret`,
 * `aws_secret_access_key`, `--api-key`. Words after them make a name that is not one (`--token-ttl`, `secretName`,
 * `password_file`), and so does a plural (`tokens`, `imagePullSecrets`). "Credential" is not among them: it names
 * identifiers (`X-Amz-Credential`) and file paths (`GOOGLE_APPLICATION_CREDENTIALS`) as often as secrets.
 */
const SECRET_ENDINGS =
  'password|passwd|passphrase|token|secret|api[-_]?key|secret[-_]?key|access[-_]?key|private[-_]?key';
const SECRET_SUFFIX = new RegExp(`(?:${SECRET_ENDINGS})$`, 'i');

/** Longer names are not taken for secret names: checked first, so long strings cost nothing. */
const MAX_SECRET_NAME = 64;

function isSecretName(name: string, names: ReadonlySet<string>): boolean {
  return name.length <= MAX_SECRET_NAME && names.has(name.toLowerCase());
}

/** A name that ends like a secret's (SECRET_SUFFIX), of any case: its string values are secrets. */
export function isSecretLikeName(name: string): boolean {
  return name.length <= MAX_SECRET_NAME && SECRET_SUFFIX.test(name);
}

const PLAIN = 0;
/** A secret name (SECRET_KEYS): whatever it holds is masked. */
const SECRET = 1;
/** A name ending like a secret's: a string it holds is masked (`automountServiceAccountToken: true` stays). */
const SECRET_LIKE = 2;

/**
 * Member names already classified: bodies repeat a few hundred names (apiVersion, metadata…) in every event, and
 * lower-casing each one again allocated a string per member. Bounded: emptied when full.
 */
const memberNames = new Map<string, number>();

function memberKind(k: string): number {
  let kind = memberNames.get(k);
  if (kind === undefined) {
    kind = isSecretName(k, SECRET_KEYS) ? SECRET : isSecretLikeName(k) ? SECRET_LIKE : PLAIN;
    if (memberNames.size >= 4096) memberNames.clear();
    memberNames.set(k, kind);
  }
  return kind;
}

/** Whether member `k` holding `v` is masked. */
function isSecretMember(k: string, v: unknown): boolean {
  const kind = memberKind(k);
  return kind === SECRET ? present(v) : kind === SECRET_LIKE && typeof v === 'string' && v !== '';
}

/** The name of a name/value pair (an env entry, a header) whose value is a secret. */
function isSecretPairName(name: string): boolean {
  return isSecretName(name, SECRET_KEYS) || isSecretLikeName(name);
}

/**
 * Percent-decoded query text (`+` is a space there). A malformed escape stays as written and hides nothing after
 * it: runs of escapes are decoded one by one, and a run that is not UTF-8 gets its ASCII escapes decoded alone.
 */
function queryDecode(raw: string): string {
  const text = raw.includes('+') ? raw.replace(/\+/g, ' ') : raw;
  if (!text.includes('%')) return text;
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run.replace(/%[0-7][0-9A-Fa-f]/g, (e) => String.fromCharCode(Number.parseInt(e.slice(1), 16)));
    }
  });
}

/** Parameter names already classified (a few repeat in every URI: watch, limit, command…). Bounded: emptied when full. */
const paramNames = new Map<string, boolean>();

/** A query parameter's name as written (`%74oken`, `Access_Token`, `db_password`) is a secret's. */
function isSecretParam(raw: string): boolean {
  if (raw.length > 3 * MAX_SECRET_NAME) return false;
  let secret = paramNames.get(raw);
  if (secret === undefined) {
    const name = queryDecode(raw);
    secret = isSecretName(name, SECRET_PARAMS) || isSecretLikeName(name);
    if (paramNames.size >= 4096) paramNames.clear();
    paramNames.set(raw, secret);
  }
  return secret;
}

/** An `=` (a flag's or an assignment's), a leading `-` (a flag), a scheme, or a URL's `@`, as written in a query. */
const MAY_HOLD_SECRET = /=|%3d|^-|^%2d|bearer|basic|@|%40/i;

/** A command-line flag or an environment assignment naming a secret: `--token=`, `-password=`, `PGPASSWORD=`. */
const SECRET_ASSIGNMENT = /^(-{0,2})([A-Za-z0-9_.-]+)=(.)/;
/** A flag naming a secret whose value is the next argument: `--token`, `--password`. */
const SECRET_FLAG = /^--?[A-Za-z0-9_.-]+$/;
/** A password in a URL's user information: `postgres://app:…@db`. */
const USERINFO_PASSWORD = /(:\/\/[^/?#@\s:]*:)([^/?#@\s]+)@/g;

/**
 * What a query parameter's value holds that is a secret, as the masked value (raw, percent-encoded), or
 * `NEXT_IS_SECRET` for a bare secret flag whose value is the next argument. Values are arguments
 * (`kubectl exec`'s `command=`, kubernetes#97795) or free text: a secret flag or assignment, an HTTP
 * `Bearer`/`Basic` credential (`curl -H "Authorization: Bearer …"`), a URL's password.
 */
function secretInValue(raw: string): string | typeof NEXT_IS_SECRET | undefined {
  // The cheap test first, on the raw text: every form needs one of these (`/bin/sh`, `ls -la`, `true` have none).
  if (!MAY_HOLD_SECRET.test(raw)) return undefined;
  const v = queryDecode(raw);
  const a = SECRET_ASSIGNMENT.exec(v);
  if (a !== null && (isSecretName(a[2], SECRET_PARAMS) || isSecretLikeName(a[2]))) {
    if (v.slice(a[0].length - 1) === MASK) return undefined;
    // The flag as written (`--token=` or `--token%3D`), then the mask.
    const eq = /=|%3d/i.exec(raw)!;
    return raw.slice(0, eq.index + eq[0].length) + MASK;
  }
  if (a === null && SECRET_FLAG.test(v)) {
    const name = v.replace(/^--?/, '');
    return isSecretName(name, SECRET_PARAMS) || isSecretLikeName(name) ? NEXT_IS_SECRET : undefined;
  }
  let masked = v;
  if (/\b(?:bearer|basic)\s/i.test(masked)) masked = maskSchemeCredentials(masked);
  if (masked.includes('://'))
    masked = masked.replace(USERINFO_PASSWORD, (m, user: string, pw: string) => (pw === MASK ? m : `${user}${MASK}@`));
  return masked === v ? undefined : encodeQueryValue(masked);
}

const NEXT_IS_SECRET = Symbol('next argument is a secret');

/** A value for the query: percent-encoded as url.Values does, but `*` kept so that `***` reads as a mask. */
function encodeQueryValue(v: string): string {
  return encodeURIComponent(v).replace(/%2A/g, '*');
}

/**
 * `uri` with the secrets of its query replaced by `***`: the value of each parameter named like a secret, and the
 * secrets parameter values carry (see `secretInValue`): `?command=--token%3D***`, and after `command=--password` the
 * next `command=` is `***`. Everything else, names included, byte for byte as it was. Parameters are separated by
 * `&` (and by a `?` inside the query, so that an unencoded nested URL's parameters count too); the query ends at
 * `#`. A URI without `?` costs one indexOf.
 */
export function maskQuery(uri: string): string {
  const q = uri.indexOf('?');
  if (q < 0) return uri;
  let out = '';
  let copied = 0; // uri[0, copied) is in out
  let start = q + 1; // the current parameter's first character
  let eq = -1; // its first '=', if seen
  let nextSecret: string | undefined; // a parameter whose next value is a secret flag's
  for (let i = start; i <= uri.length; i++) {
    const c = i < uri.length ? uri.charCodeAt(i) : 35; // the end acts as '#'
    if (c === 61 /* = */) {
      if (eq < 0) eq = i;
    } else if (c === 38 /* & */ || c === 63 /* ? */ || c === 35 /* # */) {
      if (eq > start && i > eq + 1) {
        const name = uri.slice(start, eq);
        const value = uri.slice(eq + 1, i);
        let masked: string | undefined;
        let flag = false;
        if (value === MASK) {
          // already masked
        } else if (nextSecret === name || isSecretParam(name)) {
          masked = MASK;
        } else {
          const found = secretInValue(value);
          if (found === NEXT_IS_SECRET) flag = true;
          else masked = found;
        }
        nextSecret = flag ? name : undefined;
        if (masked !== undefined) {
          out += uri.slice(copied, eq + 1) + masked;
          copied = i;
        }
      }
      if (c === 35) break;
      start = i + 1;
      eq = -1;
    }
  }
  return copied === 0 ? uri : out + uri.slice(copied);
}

/**
 * An HTTP authentication scheme and its credential inside free text (`proxy_set_header Authorization "Bearer …"`).
 * The credential counts only if it looks like one — 8 or more token68 characters with a digit, a symbol or an
 * upper-case letter after the first — so that prose ("Basic authentication", "bearer tokens") stays as written.
 */
const SCHEME_CREDENTIAL = /\b(bearer|basic)(\s+)([A-Za-z0-9._~+/-]{8,}=*)/gi;
const CREDENTIAL_LIKE = /[0-9._~+/=-]|.[A-Z]/;

/** `text` with each `Bearer`/`Basic` credential in it replaced by `***` (the scheme kept). */
export function maskSchemeCredentials(text: string): string {
  return text.replace(SCHEME_CREDENTIAL, (m, scheme: string, space: string, cred: string) =>
    CREDENTIAL_LIKE.test(cred) ? `${scheme}${space}${MASK}` : m,
  );
}

/** kubectl's copy of the applied object, as JSON text, on every object `kubectl apply` wrote. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Annotations (a string map): secret-named keys, and credentials in the values, which are free text where one may
 * be pasted (an ingress snippet, a probe command). kubectl's last-applied-configuration is the object again, as JSON
 * text: a Secret's values would be there in clear, so it is masked as a body.
 */
function maskAnnotations(annotations: Obj): void {
  for (const k in annotations) {
    if (!Object.hasOwn(annotations, k)) continue;
    const v = annotations[k];
    if (isSecretMember(k, v)) {
      put(annotations, k, MASK);
    } else if (k === LAST_APPLIED && typeof v === 'string' && v.startsWith('{')) {
      put(annotations, k, maskJsonText(v));
    } else if (typeof v === 'string' && v.length >= 14) {
      put(annotations, k, maskSchemeCredentials(v));
    }
  }
}

/**
 * Text in which masking could find something: a secret name in any case as a whole JSON string (a key, a pair's name,
 * the kind Secret or SecretList; `\"…\"` inside a nested copy too), a JSON string that ends like a secret's name
 * (`"DB_PASSWORD"`), a scheme credential, or a `\u` escape that could spell one. Most applied objects have none
 * ("rbac.authorization.k8s.io" is not "authorization"), and parsing and serializing their copy cost ~15 µs for a
 * 3 KB annotation.
 */
const MAYBE_SECRET = new RegExp(
  `"(?:${[...SECRET_KEYS, 'secretlist'].map((k) => k.replace(/[-_]/g, '\\$&')).join('|')})\\\\?"|(?:${SECRET_ENDINGS})\\\\?"|\\b(?:bearer|basic)\\s|\\\\u`,
  'i',
);

/** JSON text of an object with its credentials masked; unchanged text when there were none (or it is not JSON). */
function maskJsonText(text: string): string {
  if (!MAYBE_SECRET.test(text)) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return maskSchemeCredentials(text);
  }
  const before = JSON.stringify(parsed);
  maskTree(parsed);
  const after = JSON.stringify(parsed);
  return after === before ? text : text.endsWith('\n') ? `${after}\n` : after;
}

/**
 * A Kubernetes Secret's values are secrets whatever their keys are named (`tls.key`, `.dockerconfigjson`): the values
 * of its `data` and `stringData` are masked, the keys kept. Called on objects of kind Secret, on each item of a
 * SecretList (whose items carry no kind), and on the bodies of requests to the secrets resource (a patch has no kind).
 */
function maskSecretData(o: unknown): void {
  if (Array.isArray(o)) {
    // a JSON patch: the values it puts under /data or /stringData
    for (const op of o) {
      if (!isObject(op) || typeof op.path !== 'string' || !/^\/(data|stringData)(\/|$)/.test(op.path)) continue;
      if (isObject(op.value)) maskSecretData({ data: op.value });
      else if (present(op.value)) put(op, 'value', MASK);
    }
    return;
  }
  if (!isObject(o)) return;
  for (const field of ['data', 'stringData']) {
    const d = o[field];
    if (!isObject(d)) continue;
    for (const k in d) if (Object.hasOwn(d, k) && present(d[k])) put(d, k, MASK);
  }
  if (Array.isArray(o.items)) for (const item of o.items) maskSecretData(item);
}

/**
 * Objects a walk visits before it starts keeping a set of those seen. Bodies decoded from JSON are trees, visited once
 * each without one (a set's lookups were a third of masking a Kubernetes event); a body built in code may share or
 * cycle, and from this many on the walk starts over keeping the set, as masking twice changes nothing.
 */
const UNTRACKED_VISITS = 10_000;

/**
 * Masks every secret-named member at any depth of `root` (without recursion: bodies may nest deeply), the `value`
 * of a name/value pair whose `name` (or `key`) is a secret name (HAR and gateway header lists, Kubernetes
 * `httpHeaders` and `env`), and credentials in the values of `annotations` maps. Objects in `skip` are left alone.
 */
function maskTree(root: unknown, skip?: ReadonlySet<unknown>): void {
  if (root === null || typeof root !== 'object') return;
  if (!maskWalk(root, skip, undefined)) maskWalk(root, skip, new Set(skip));
}

/** One walk of maskTree; false when it gave up untracked (more than UNTRACKED_VISITS objects). */
function maskWalk(root: object, skip: ReadonlySet<unknown> | undefined, seen: Set<unknown> | undefined): boolean {
  const stack: unknown[] = [root];
  let visits = 0;
  while (stack.length > 0) {
    const v = stack.pop();
    if (seen) {
      if (seen.has(v)) continue;
      seen.add(v);
    } else if (++visits > UNTRACKED_VISITS) {
      return false;
    } else if (skip?.has(v)) {
      continue;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (x !== null && typeof x === 'object') stack.push(x);
      }
      continue;
    }
    const o = v as Obj;
    // `kind` and `value` noted on the way: looking them up on every object (of as many shapes as a body has) cost more
    // than the walk. A Secret's data is masked after its members: the objects pushed are visited later.
    let kind: unknown;
    let pair = false;
    for (const k in o) {
      if (!Object.hasOwn(o, k)) continue;
      const x = o[k];
      if (k === 'kind') kind = x;
      else if (k === 'value') pair = present(x);
      if (isSecretMember(k, x)) {
        put(o, k, MASK);
      } else if (x !== null && typeof x === 'object') {
        stack.push(x);
        if (k === 'annotations' && !Array.isArray(x)) maskAnnotations(x as Obj);
      }
    }
    if (kind === 'Secret' || kind === 'SecretList') maskSecretData(o);
    // A pair (an env entry, a header): its value is a secret when its name or key is a secret's name.
    if (pair && present(o.value)) {
      const { name, key } = o;
      if ((typeof name === 'string' && isSecretPairName(name)) || (typeof key === 'string' && isSecretPairName(key)))
        put(o, 'value', MASK);
    }
  }
  return true;
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
        if (last) put(cur, n, MASK);
        else maskAt(cur[n], segs, j + 1);
      }
      return;
    }
    if (typeof s === 'number') {
      if (!Array.isArray(cur) || s >= cur.length) return;
      if (last) put(cur, s, MASK);
      else cur = cur[s];
      continue;
    }
    if (!isObject(cur) || !Object.hasOwn(cur, s)) return;
    if (last) {
      if (cur[s] !== undefined && cur[s] !== null) put(cur, s, MASK);
    } else {
      cur = cur[s];
    }
  }
}

/**
 * Masks credentials in `e` in place and returns it: secret query parameters of the requestURI; secret-named
 * members and name/value pairs anywhere in requestObject, responseObject, annotations and the format leftovers in
 * `origin`, and credentials in annotation values; the CADF initiator's credential token (unless pycadf already
 * masked it); and each of `extraPaths` (dot paths from the event root, `[n]`/`[*]` for items, e.g.
 * `requestObject.spec.env[*].value`; parse them once with `parseMaskPath` for the hot path). `onMasked`, when
 * given, is called with every value masked in the bodies and annotations (before it was masked): the collector
 * keeps a keyed digest of each (./mask-digest.ts).
 */
export function maskCredentials(
  e: AuditEvent,
  extraPaths?: readonly (string | readonly Segment[])[],
  onMasked?: (masked: MaskedValue[]) => void,
): AuditEvent {
  if (!onMasked) return maskAll(e, extraPaths);
  const masked: MaskedValue[] = [];
  maskAll(e, extraPaths, masked);
  onMasked(masked);
  return e;
}

/** Masks `e`; what is masked in its bodies and at `extraPaths` is recorded into `record` when given. */
function maskAll(
  e: AuditEvent,
  extraPaths?: readonly (string | readonly Segment[])[],
  record?: MaskedValue[],
): AuditEvent {
  if (typeof e.requestURI === 'string') e.requestURI = maskQuery(e.requestURI);
  if (e.annotations) maskAnnotations(e.annotations);
  recording = record;
  try {
    // core/v1 secrets: a patch or a partial body has no kind to tell it is a Secret
    if (e.objectRef?.resource === 'secrets' && !e.objectRef.apiGroup) {
      maskSecretData(e.requestObject);
      maskSecretData(e.responseObject);
    }
    maskTree(e.requestObject);
    maskTree(e.responseObject);
  } finally {
    recording = undefined;
  }
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
    recording = record;
    try {
      for (const p of extraPaths) maskAt(e, typeof p === 'string' ? parseMaskPath(p) : p, 0);
    } finally {
      recording = undefined;
    }
  }
  return e;
}
