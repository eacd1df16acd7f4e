// Field paths as KubeSphere's rules name them (`Verb`, `User.username`, `ObjectRef.Namespace`,
// `RequestObject.spec.containers[*].image`), resolved once at load into an accessor on the canonical event.
//
// KubeSphere flattens every event into a map before evaluating (kubesphere-auditing.md §3.2): the event goes
// through Go's internal audit.Event struct (no omitempty, so absent strings are present as ""), Verb is
// lower-cased, numbers become float64, User.* and ResponseStatus.* keep their lower-case, omitempty JSON tags.
// Vigil does not flatten: each path compiles to a getter that returns exactly what that map would hold
// (undefined where the map has no key), so an event costs nothing for the fields no rule reads.
// Path segments match case-insensitively (the documented `User.Username` works too); `misspelled` records
// where the written spelling would never match in KubeSphere.

import type { AuditEvent, UserInfo } from '../event/model.ts';

export type Selector = { kind: 'any' } | { kind: 'index'; n: number } | { kind: 'slice'; from?: number; to?: number };

export interface PathSegment {
  name: string;
  sel?: Selector;
  /** Offset of the segment in its source text. */
  pos: number;
}

/**
 * What a field can hold, as far as the load-time checks need: `text` is a string that is never numeric
 * (Verb, Level…), `string` may be numeric text (names), `struct` is one of the event's objects (ObjectRef,
 * User…), `any` is request/response bodies and other free JSON.
 */
export type FieldType = 'text' | 'string' | 'number' | 'array' | 'struct' | 'any';

export type Getter = (e: AuditEvent) => unknown;

/** After the first `[…]`: walk keys, or select array elements. */
export type Step = { kind: 'keys'; keys: string[]; lowers: string[] } | { kind: 'sel'; sel: Selector };

export interface ResolvedField {
  /** The path in KubeSphere's spelling for the event's own members, the rest as written. */
  canonical: string;
  type: FieldType;
  /** Value at the path, or — when the path has brackets — the array the first bracket applies to. */
  get: Getter;
  /** Selection steps after the first bracket; empty without brackets. */
  steps: Step[];
  /** The path ends with `]`. */
  endsWithSelector: boolean;
  /** The field can be absent from KubeSphere's map (omitempty member, null object, free JSON). */
  maybeMissing: boolean;
  /** Spelled in a case KubeSphere's map does not use (`User.Username`): never matches there. */
  misspelled: boolean;
  /** A free-JSON key written with a capital first letter: KubeSphere matches such keys exactly, Vigil not. */
  caseGuess: boolean;
  /** A `[…]` is followed by a key and then another `[…]` (`containers[*].ports[*]`). */
  nestedSelector: boolean;
}

/** An object standing for "this struct member is present" (ObjectRef, User…), for `exists`. */
export const PRESENT: Readonly<Record<string, unknown>> = Object.freeze({ present: true });

/** Case-insensitive member lookup on decoded JSON: exact key first, then any key equal ignoring case. */
export function member(obj: unknown, key: string, lower: string): unknown {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const o = obj as Record<string, unknown>;
  // A plain read is exact for decoded JSON, except where it reaches Object.prototype (`constructor` is a
  // function, `__proto__` an accessor): those fall through to the scan of own keys below.
  const v = o[key];
  if (v !== undefined && typeof v !== 'function' && key !== '__proto__') return v;
  for (const k in o) {
    if (k.length === lower.length && sameIgnoringCase(k, lower) && Object.hasOwn(o, k)) return o[k];
  }
  return undefined;
}

/** `a.toLowerCase() === lower` without making the lower-case string (this runs per event on missing keys). */
function sameIgnoringCase(a: string, lower: string): boolean {
  for (let i = 0; i < a.length; i++) {
    let c = a.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    else if (c > 127) return a.toLowerCase() === lower;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function hasDottedKey(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  for (const k in v) if (k.includes('.')) return true;
  return false;
}

/**
 * Walks `keys[from..]` in nested JSON. KubeSphere's flattened map joins nested keys with `.`, so a key that itself
 * contains dots (`metadata.labels.tier.kind` for a label `tier.kind`) is reachable too: tried on a miss only.
 */
export function walk(v: unknown, keys: string[], lowers: string[], from = 0): unknown {
  for (let i = from; i < keys.length; i++) {
    if (v === undefined || v === null) return undefined;
    const next = member(v, keys[i], lowers[i]);
    if (next === undefined && i + 1 < keys.length && hasDottedKey(v)) {
      for (let j = keys.length; j > i + 1; j--) {
        const joined = keys.slice(i, j).join('.');
        const hit = member(v, joined, joined.toLowerCase());
        if (hit !== undefined) return walk(hit, keys, lowers, j);
      }
    }
    v = next;
  }
  return v;
}

function str(v: string | undefined): string {
  return v ?? '';
}
/** omitempty string: "" is absent. */
function opt(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}
function nonEmptyMap(m: object | undefined): object | undefined {
  if (m === undefined || m === null) return undefined;
  for (const _ in m) return m;
  return undefined;
}
function userPresent(u: UserInfo | undefined): boolean {
  return !!u && (!!u.username || !!u.uid || (u.groups?.length ?? 0) > 0 || nonEmptyMap(u.extra) !== undefined);
}

interface Node {
  /** KubeSphere's spelling. */
  key: string;
  type: FieldType;
  missing: boolean;
  get: Getter;
  /** Struct members, by lower-case key. */
  members?: Record<string, Node>;
  /** Free JSON below this node (request/response bodies, annotations, details…). */
  open?: boolean;
}

function leaf(key: string, type: FieldType, missing: boolean, get: Getter): Node {
  return { key, type, missing, get };
}

function userNode(key: string, pick: (e: AuditEvent) => UserInfo | undefined): Node {
  return {
    key,
    type: 'struct',
    missing: true,
    get: (e) => (userPresent(pick(e)) ? PRESENT : undefined),
    members: {
      username: leaf('username', 'string', true, (e) => opt(pick(e)?.username)),
      uid: leaf('uid', 'string', true, (e) => opt(pick(e)?.uid)),
      groups: leaf('groups', 'array', true, (e) => {
        const g = pick(e)?.groups;
        return g && g.length > 0 ? g : undefined;
      }),
      extra: { key: 'extra', type: 'any', missing: true, open: true, get: (e) => nonEmptyMap(pick(e)?.extra) },
    },
  };
}

// One getter per member with a static property read: a shared `ref[k]` would be a megamorphic keyed load.
const objectRefMembers: Record<string, Node> = {
  resource: leaf('Resource', 'text', true, (e) => (e.objectRef === undefined ? undefined : str(e.objectRef.resource))),
  namespace: leaf('Namespace', 'string', true, (e) =>
    e.objectRef === undefined ? undefined : str(e.objectRef.namespace),
  ),
  name: leaf('Name', 'string', true, (e) => (e.objectRef === undefined ? undefined : str(e.objectRef.name))),
  uid: leaf('UID', 'text', true, (e) => (e.objectRef === undefined ? undefined : str(e.objectRef.uid))),
  apigroup: leaf('APIGroup', 'text', true, (e) => (e.objectRef === undefined ? undefined : str(e.objectRef.apiGroup))),
  apiversion: leaf('APIVersion', 'text', true, (e) =>
    e.objectRef === undefined ? undefined : str(e.objectRef.apiVersion),
  ),
  resourceversion: leaf('ResourceVersion', 'string', true, (e) =>
    e.objectRef === undefined ? undefined : str(e.objectRef.resourceVersion),
  ),
  subresource: leaf('Subresource', 'text', true, (e) =>
    e.objectRef === undefined ? undefined : str(e.objectRef.subresource),
  ),
};

// KubeSphere lower-cases Verb on ingest. Events arrive with the same few verbs over and over: remembering the
// last one spares a toLowerCase (and its string) per rule per event.
let lastVerb = '';
let lastLower = '';
function lowerVerb(e: AuditEvent): string {
  const v = e.verb ?? '';
  if (v !== lastVerb) {
    lastVerb = v;
    lastLower = v.toLowerCase();
  }
  return lastLower;
}

const TOP: Record<string, Node> = {
  level: leaf('Level', 'text', false, (e) => str(e.level)),
  auditid: leaf('AuditID', 'text', false, (e) => str(e.auditID)),
  stage: leaf('Stage', 'text', false, (e) => str(e.stage)),
  requesturi: leaf('RequestURI', 'text', false, (e) => str(e.requestURI)),
  verb: leaf('Verb', 'text', false, lowerVerb),
  useragent: leaf('UserAgent', 'text', false, (e) => str(e.userAgent)),
  requestreceivedtimestamp: leaf('RequestReceivedTimestamp', 'text', false, (e) => str(e.requestReceivedTimestamp)),
  stagetimestamp: leaf('StageTimestamp', 'text', false, (e) => str(e.stageTimestamp)),
  workspace: leaf('Workspace', 'string', false, (e) => str(e.workspace)),
  devops: leaf('Devops', 'string', false, (e) => str(e.devops)),
  cluster: leaf('Cluster', 'string', false, (e) => str(e.cluster)),
  // Filled by KubeSphere with the alert message after the rules ran: always "" while they run.
  message: leaf('Message', 'string', false, () => ''),
  user: userNode('User', (e) => e.user),
  impersonateduser: userNode('ImpersonatedUser', (e) => e.impersonatedUser),
  sourceips: leaf('SourceIPs', 'array', true, (e) => e.sourceIPs),
  objectref: {
    key: 'ObjectRef',
    type: 'struct',
    missing: true,
    get: (e) => (e.objectRef === undefined ? undefined : PRESENT),
    members: objectRefMembers,
  },
  responsestatus: {
    key: 'ResponseStatus',
    type: 'struct',
    missing: true,
    get: (e) => {
      const s = e.responseStatus;
      return s && (s.code || s.status || s.message || s.reason || s.details) ? PRESENT : undefined;
    },
    members: {
      // int32 with omitempty: 0 is absent.
      code: leaf('code', 'number', true, (e) => e.responseStatus?.code || undefined),
      status: leaf('status', 'text', true, (e) => opt(e.responseStatus?.status)),
      message: leaf('message', 'string', true, (e) => opt(e.responseStatus?.message)),
      reason: leaf('reason', 'text', true, (e) => opt(e.responseStatus?.reason)),
      details: { key: 'details', type: 'any', missing: true, open: true, get: (e) => e.responseStatus?.details },
      metadata: { key: 'metadata', type: 'any', missing: true, open: true, get: (e) => e.responseStatus?.metadata },
    },
  },
  requestobject: { key: 'RequestObject', type: 'any', missing: true, open: true, get: (e) => e.requestObject },
  responseobject: { key: 'ResponseObject', type: 'any', missing: true, open: true, get: (e) => e.responseObject },
  annotations: { key: 'Annotations', type: 'any', missing: true, open: true, get: (e) => e.annotations },
  // Native audit.k8s.io events carry their TypeMeta into the map.
  kind: leaf('kind', 'text', true, (e) => (e.source === 'kubernetes' ? 'Event' : undefined)),
  apiversion: leaf('apiVersion', 'text', true, (e) =>
    e.source === 'kubernetes'
      ? ((e.origin?.kubernetes?.apiVersion as string | undefined) ?? 'audit.k8s.io/v1')
      : undefined,
  ),
};

/** The event's own field names, KubeSphere spelling, for error messages. */
export const FIELD_NAMES: string[] = Object.values(TOP).flatMap((n) =>
  n.open
    ? [`${n.key}.…`]
    : n.members
      ? Object.values(n.members).map((m) => (m.open ? `${n.key}.${m.key}.…` : `${n.key}.${m.key}`))
      : [n.key],
);

export class FieldError extends Error {
  readonly pos: number;
  constructor(message: string, pos: number) {
    super(message);
    this.pos = pos;
  }
}

/** Resolves a parsed path to its accessor, or throws FieldError at the offending segment. */
export function resolveField(segs: PathSegment[]): ResolvedField {
  let node: Node | undefined;
  let members: Record<string, Node> | undefined = TOP;
  const canonical: string[] = [];
  let misspelled = false;
  let caseGuess = false;
  let i = 0;
  // The event's own members: fixed names.
  for (; i < segs.length && members; i++) {
    const s = segs[i];
    const next: Node | undefined = members[s.name.toLowerCase()];
    if (!next) {
      const where = node
        ? `${canonical.join('.')} has no member "${s.name}"; it has ${Object.values(members)
            .map((m) => m.key)
            .join(', ')}`
        : `unknown field "${s.name}"; fields are ${FIELD_NAMES.join(', ')}`;
      throw new FieldError(where, s.pos);
    }
    if (next.key !== s.name) misspelled = true;
    canonical.push(next.key);
    node = next;
    members = next.open ? undefined : next.members;
    if (s.sel) {
      if (next.type !== 'array' && next.type !== 'any') {
        throw new FieldError(`${canonical.join('.')} is not an array: [...] does not apply`, s.pos);
      }
      i++;
      break;
    }
  }
  const top = node!;
  const firstSel = segs[i - 1]?.sel;
  // Free JSON below an open node: keys up to the first bracket belong to the getter.
  const baseKeys: string[] = [];
  if (!firstSel) {
    for (; i < segs.length; i++) {
      const s = segs[i];
      if (!top.open) throw new FieldError(`${canonical.join('.')} has no member "${s.name}"`, s.pos);
      baseKeys.push(s.name);
      canonical.push(s.name);
      if (/^[A-Z]/.test(s.name)) caseGuess = true;
      if (s.sel) {
        i++;
        break;
      }
    }
  }
  const sel = firstSel ?? segs[i - 1]?.sel;
  const steps: Step[] = [];
  let nestedSelector = false;
  if (sel) {
    steps.push({ kind: 'sel', sel });
    let keys: string[] = [];
    for (; i < segs.length; i++) {
      const s = segs[i];
      keys.push(s.name);
      canonical.push(s.name);
      if (/^[A-Z]/.test(s.name)) caseGuess = true;
      if (s.sel) {
        steps.push({ kind: 'keys', keys, lowers: keys.map((k) => k.toLowerCase()) });
        steps.push({ kind: 'sel', sel: s.sel });
        nestedSelector = true;
        keys = [];
      }
    }
    if (keys.length) steps.push({ kind: 'keys', keys, lowers: keys.map((k) => k.toLowerCase()) });
  }
  const lowers = baseKeys.map((k) => k.toLowerCase());
  const base = top.get;
  let get: Getter = base;
  if (baseKeys.length === 1) {
    const [k] = baseKeys;
    const [l] = lowers;
    get = (e) => {
      const v = base(e);
      return v === undefined || v === null ? undefined : member(v, k, l);
    };
  } else if (baseKeys.length > 1) {
    get = (e) => walk(base(e), baseKeys, lowers);
  }
  const type: FieldType = baseKeys.length || steps.length ? 'any' : top.type;
  return {
    canonical: canonical.join('.'),
    type: steps.length ? 'any' : type,
    get,
    steps,
    endsWithSelector: !!segs[segs.length - 1]?.sel,
    maybeMissing: top.missing || baseKeys.length > 0,
    misspelled,
    caseGuess,
    nestedSelector,
  };
}
