// What a write did to an object: the difference between two stored states of it, and the states a patch leads to
// (JSON patch, RFC 6902; JSON merge patch, RFC 7386; a strategic merge patch is applied as a merge patch: its
// `$`-directives are skipped and its lists replaced whole, so a state after one is approximate). Masked values
// compare by their digests (src/event/mask-digest.ts): "changed" or "unchanged" without the value.
import { MASK } from '../event/mask.ts';
import { pointerToken } from '../event/mask-digest.ts';
import { isObject } from '../event/validate.ts';

export interface DiffEntry {
  /** JSON pointer into the object (`/data/password`). */
  path: string;
  op: 'add' | 'remove' | 'replace';
  before?: unknown;
  after?: unknown;
  /** A masked value: whether it changed, by its digests (absent when they cannot be compared). */
  masked?: 'changed' | 'unchanged';
}

/** An object as stored, with the digests of its masked values (pointers from the object's root) under `key`. */
export interface ObjectState {
  object: unknown;
  digests: ReadonlyMap<string, string>;
  key?: string;
}

/** Members every write changes, which say nothing about what the write did. */
const NOISE = new Set(['/metadata/resourceVersion', '/metadata/managedFields']);

type Json = Record<string, unknown>;

/** An added value without the noise members inside it (a created object's `metadata` without resourceVersion…). */
function quiet(v: unknown, path: string): unknown {
  if (!isObject(v) || Array.isArray(v)) return v;
  let out: Json | undefined;
  for (const n of NOISE) {
    if (!n.startsWith(`${path}/`)) continue;
    const k = n.slice(path.length + 1);
    if (k.includes('/') || !Object.hasOwn(v, k)) continue;
    out ??= { ...v };
    delete out[k];
  }
  return out ?? v;
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && equal((a as Json)[k], (b as Json)[k]));
}

/** Whether the digests of `a` and `b` can be compared (both under the same key). */
function sameKey(a: ObjectState, b: ObjectState): boolean {
  return a.key !== undefined && a.key === b.key;
}

/**
 * The difference from `before` to `after`, unchanged parts omitted: objects member by member, arrays of the same
 * length item by item (a changed length replaces the array), anything else as a whole. A masked value
 * (`***` on both sides) is "changed" or "unchanged" by its digests; without comparable digests it is listed as a
 * replace with no `masked`, since whether it changed is unknown.
 */
export function diffStates(before: ObjectState, after: ObjectState): DiffEntry[] {
  const out: DiffEntry[] = [];
  const comparable = sameKey(before, after);
  const walk = (a: unknown, b: unknown, path: string) => {
    if (NOISE.has(path)) return;
    if (a === undefined && b === undefined) return;
    if (a === undefined) return void out.push({ path, op: 'add', after: quiet(b, path) });
    if (b === undefined) return void out.push({ path, op: 'remove', before: a });
    const da = before.digests.get(path);
    const db = after.digests.get(path);
    if (a === MASK && b === MASK) {
      if (comparable && da && db) {
        if (da !== db) out.push({ path, op: 'replace', before: a, after: b, masked: 'changed' });
      } else out.push({ path, op: 'replace', before: a, after: b });
      return;
    }
    const arrays = Array.isArray(a) && Array.isArray(b);
    if (arrays && a.length === b.length) {
      for (let i = 0; i < a.length; i++) walk(a[i], b[i], `${path}/${i}`);
      return;
    }
    if (isObject(a) && isObject(b) && !Array.isArray(a) && !Array.isArray(b)) {
      for (const k of Object.keys(a)) walk(a[k], b[k], `${path}/${pointerToken(k)}`);
      for (const k of Object.keys(b)) if (!Object.hasOwn(a, k)) walk(undefined, b[k], `${path}/${pointerToken(k)}`);
      return;
    }
    if (!equal(a, b)) out.push({ path, op: 'replace', before: a, after: b });
  };
  // A created object (nothing before) is listed member by member, not as one add of the whole.
  walk(before.object ?? {}, after.object ?? {}, '');
  return out;
}

/** A patch's effect: the state after it (undefined: unknown), and what it wrote, for when no state before is known. */
export interface Patched {
  state?: ObjectState;
  /** The patch's own entries (paths it set or removed, with the values it wrote), before-values unknown. */
  written: DiffEntry[];
  /** Masked values it wrote again unchanged (equal digests): listed although no state changed. */
  rewritten: DiffEntry[];
}

function tokenOf(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

/** Sets (or with `undefined` removes) the value at `path` in `root`; returns the new root. */
function setAt(root: unknown, path: string, v: unknown, insert = false): unknown {
  if (path === '') return v;
  const tokens = path.slice(1).split('/').map(tokenOf);
  const last = tokens.pop()!;
  let cur = root;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else return root;
  }
  if (Array.isArray(cur)) {
    const i = last === '-' ? cur.length : Number(last);
    if (!Number.isInteger(i) || i < 0 || i > cur.length) return root;
    if (v === undefined) cur.splice(i, 1);
    else if (insert) cur.splice(i, 0, v);
    else cur[i] = v;
  } else if (isObject(cur)) {
    if (v === undefined) delete cur[last];
    else cur[last] = v;
  }
  return root;
}

function getAt(root: unknown, path: string): unknown {
  if (path === '') return root;
  let cur = root;
  for (const t of path.slice(1).split('/').map(tokenOf)) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else return undefined;
  }
  return cur;
}

/** Digests without those at or below `path` (a value replaced or removed there). */
function dropBelow(digests: Map<string, string>, path: string): void {
  for (const k of [...digests.keys()]) if (k === path || k.startsWith(`${path}/`)) digests.delete(k);
}

/**
 * Applies a patch (`patch`, with the digests of the values masked in it, pointers from the patch's root) to
 * `prior` (undefined: unknown). A JSON array is a JSON patch; an object a merge (or strategic merge) patch.
 */
export function applyPatch(
  prior: ObjectState | undefined,
  patch: unknown,
  patchDigests: ReadonlyMap<string, string>,
  key?: string,
): Patched {
  const object = clone(prior?.object);
  const digests = new Map(prior?.digests);
  const written: DiffEntry[] = [];
  const rewritten: DiffEntry[] = [];
  const compare = prior !== undefined && prior.key !== undefined && prior.key === key;
  /** A value the patch writes at `path`, masked with digest `d` where it was masked. */
  const write = (path: string, d: string | undefined, state: unknown) => {
    const old = digests.get(path);
    dropBelow(digests, path);
    if (d) {
      digests.set(path, d);
      if (compare && old === d && getAt(state, path) === MASK)
        rewritten.push({ path, op: 'replace', before: MASK, after: MASK, masked: 'unchanged' });
    }
  };
  let state: unknown = object;
  if (Array.isArray(patch)) {
    patch.forEach((op, i) => {
      if (!isObject(op) || typeof op.path !== 'string') return;
      const path = op.path;
      const d = patchDigests.get(`/${i}/value`);
      switch (op.op) {
        case 'add':
        case 'replace':
          written.push({ path, op: op.op === 'add' ? 'add' : 'replace', after: op.value });
          write(path, d, state);
          state = setAt(state, path, clone(op.value), op.op === 'add');
          break;
        case 'remove':
          written.push({ path, op: 'remove' });
          dropBelow(digests, path);
          state = setAt(state, path, undefined);
          break;
        case 'move':
        case 'copy': {
          if (typeof op.from !== 'string') return;
          const v = clone(getAt(state, op.from));
          if (op.op === 'move') {
            written.push({ path: op.from, op: 'remove' });
            state = setAt(state, op.from, undefined);
          }
          written.push({ path, op: 'add' });
          state = setAt(state, path, v, true);
          break;
        }
      }
    });
  } else if (isObject(patch)) {
    const merge = (target: unknown, p: Json, path: string): unknown => {
      const t: Json = isObject(target) && !Array.isArray(target) ? target : {};
      for (const [k, v] of Object.entries(p)) {
        if (k.startsWith('$')) continue; // strategic merge directives
        const at = `${path}/${pointerToken(k)}`;
        if (v === null) {
          written.push({ path: at, op: 'remove' });
          dropBelow(digests, at);
          delete t[k];
        } else if (isObject(v) && !Array.isArray(v)) {
          t[k] = merge(t[k], v, at);
        } else {
          written.push({ path: at, op: 'replace', after: v });
          write(at, patchDigests.get(at), object);
          t[k] = clone(v);
        }
      }
      return t;
    };
    state = merge(object, patch, '');
  } else return { written, rewritten };
  return { state: prior ? { object: state, digests, key } : undefined, written, rewritten };
}
