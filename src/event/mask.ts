// Credentials never reach the store or a log in clear. What a request or response body says under a key named like a
// secret, a CADF initiator's credential token, and any configured path are replaced by `***` — the key stays, so the
// event still shows that a password was sent. This is oslo's `mask_dict_password` idea (which turns
// keystonemiddleware's credential.token into `***` in the log driver), applied to every format at ingest. Secrets
// also hide inside strings and pairs: a request URI's `?access_token=…` (every format's URL or path is the
// requestURI), a header list's `{"name": "Authorization", "value": …}`, an annotation's `Bearer …`. And a Kubernetes
// Secret's values are secrets under any key: its `data` and `stringData` are masked wherever it appears (bodies,
// lists, kubectl's last-applied-configuration).
import type { AuditEvent } from './model.ts';
import { isObject } from './validate.ts';

export const MASK = '***';

/** A value worth masking: an empty or missing one stays as it is (it shows that nothing was sent). */
function present(v: unknown): boolean {
  return v !== null && v !== undefined && v !== '';
}

type Obj = Record<string, unknown>;

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

/** Longer names are not secret names: checked before lower-casing, so long strings cost nothing. */
const MAX_SECRET_NAME = Math.max(...[...SECRET_PARAMS].map((k) => k.length));

function isSecretName(name: string, names: ReadonlySet<string>): boolean {
  return name.length <= MAX_SECRET_NAME && names.has(name.toLowerCase());
}

/**
 * Member names already classified: bodies repeat a few hundred names (apiVersion, metadata…) in every event, and
 * lower-casing each one again allocated a string per member. Bounded: emptied when full.
 */
const memberNames = new Map<string, boolean>();

/** A member name that is a secret name (SECRET_KEYS, any case). */
function isSecretMember(k: string): boolean {
  let secret = memberNames.get(k);
  if (secret === undefined) {
    secret = isSecretName(k, SECRET_KEYS);
    if (memberNames.size >= 4096) memberNames.clear();
    memberNames.set(k, secret);
  }
  return secret;
}

/** A query parameter's name as written (`%74oken`, `Access_Token`) is a secret name. */
function isSecretParam(raw: string): boolean {
  if (raw.length > 3 * MAX_SECRET_NAME) return false;
  let name = raw;
  if (raw.includes('%')) {
    try {
      name = decodeURIComponent(raw);
    } catch {
      // malformed percent-encoding: compare as written
    }
  }
  return isSecretName(name, SECRET_PARAMS);
}

/**
 * `uri` with the value of each secret query parameter replaced by `***`; everything else, names included, byte for
 * byte as it was. Parameters are separated by `&` (and by a `?` inside the query, so that an unencoded nested URL's
 * parameters count too); the query ends at `#`. A URI without `?` costs one indexOf.
 */
export function maskQuery(uri: string): string {
  const q = uri.indexOf('?');
  if (q < 0) return uri;
  let out = '';
  let copied = 0; // uri[0, copied) is in out
  let start = q + 1; // the current parameter's first character
  let eq = -1; // its first '=', if seen
  for (let i = start; i <= uri.length; i++) {
    const c = i < uri.length ? uri.charCodeAt(i) : 35; // the end acts as '#'
    if (c === 61 /* = */) {
      if (eq < 0) eq = i;
    } else if (c === 38 /* & */ || c === 63 /* ? */ || c === 35 /* # */) {
      if (eq > start && i > eq + 1 && isSecretParam(uri.slice(start, eq)) && uri.slice(eq + 1, i) !== MASK) {
        out += uri.slice(copied, eq + 1) + MASK;
        copied = i;
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
    if (isSecretMember(k)) {
      if (present(v)) annotations[k] = MASK;
    } else if (k === LAST_APPLIED && typeof v === 'string' && v.startsWith('{')) {
      annotations[k] = maskJsonText(v);
    } else if (typeof v === 'string' && v.length >= 14) {
      annotations[k] = maskSchemeCredentials(v);
    }
  }
}

/**
 * Text in which masking could find something: a secret name in any case as a whole JSON string (a key, a pair's name,
 * the kind Secret or SecretList; `\"…\"` inside a nested copy too), a scheme credential, or a `\u` escape that could
 * spell one. Most applied objects have none ("rbac.authorization.k8s.io" is not "authorization"), and parsing and
 * serializing their copy cost ~15 µs for a 3 KB annotation.
 */
const MAYBE_SECRET = new RegExp(
  `"(?:${[...SECRET_KEYS, 'secretlist'].map((k) => k.replace(/[-_]/g, '\\$&')).join('|')})\\\\?"|\\b(?:bearer|basic)\\s|\\\\u`,
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
      else if (present(op.value)) op.value = MASK;
    }
    return;
  }
  if (!isObject(o)) return;
  for (const field of ['data', 'stringData']) {
    const d = o[field];
    if (!isObject(d)) continue;
    for (const k in d) if (Object.hasOwn(d, k) && present(d[k])) d[k] = MASK;
  }
  if (Array.isArray(o.items)) for (const item of o.items) maskSecretData(item);
}

/**
 * Masks every secret-named member at any depth of `root` (without recursion: bodies may nest deeply), the `value`
 * of a name/value pair whose `name` (or `key`) is a secret name (HAR and gateway header lists, Kubernetes
 * `httpHeaders` and `env`), and credentials in the values of `annotations` maps.
 */
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
    if (o.kind === 'Secret' || o.kind === 'SecretList') maskSecretData(o);
    let secretPair = false;
    for (const k in o) {
      if (!Object.hasOwn(o, k)) continue;
      const x = o[k];
      if (isSecretMember(k)) {
        if (present(x)) o[k] = MASK;
      } else if (x !== null && typeof x === 'object') {
        stack.push(x);
        if (k === 'annotations' && !Array.isArray(x)) maskAnnotations(x as Obj);
      } else if ((k === 'name' || k === 'key') && typeof x === 'string' && isSecretName(x, SECRET_KEYS)) {
        secretPair = true;
      }
    }
    if (secretPair && Object.hasOwn(o, 'value')) {
      const x = o.value;
      if (present(x)) o.value = MASK;
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
 * Masks credentials in `e` in place and returns it: secret query parameters of the requestURI; secret-named
 * members and name/value pairs anywhere in requestObject, responseObject, annotations and the format leftovers in
 * `origin`, and credentials in annotation values; the CADF initiator's credential token (unless pycadf already
 * masked it); and each of `extraPaths` (dot paths from the event root, `[n]`/`[*]` for items, e.g.
 * `requestObject.spec.env[*].value`; parse them once with `parseMaskPath` for the hot path).
 */
export function maskCredentials(e: AuditEvent, extraPaths?: readonly (string | readonly Segment[])[]): AuditEvent {
  if (typeof e.requestURI === 'string') e.requestURI = maskQuery(e.requestURI);
  if (e.annotations) maskAnnotations(e.annotations);
  // core/v1 secrets: a patch or a partial body has no kind to tell it is a Secret
  if (e.objectRef?.resource === 'secrets' && !e.objectRef.apiGroup) {
    maskSecretData(e.requestObject);
    maskSecretData(e.responseObject);
  }
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
