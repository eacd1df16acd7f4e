// Keyed digests of masked values, so that an object's history can say "value changed (masked)" or "unchanged"
// without the value: the collector masks each event (./mask.ts) and keeps HMAC-SHA256(key, value) of every value it
// masked in the request and response bodies, in the event's annotation `vigil.dev/masked-digests`:
//   {"key": "<key id>", "values": {"/responseObject/data/password": "<digest>", …}}
// (JSON pointers from the event's root). The annotation is part of the stored event, so the hash chain covers it
// like everything else stored. The key is the store's (derived from its signing key: src/integrity/keys.ts
// maskKeyOf), so digests of one store compare and nobody without the key can test guesses against them; digests
// of different keys (`key` differs) are not compared. A digest is 128 bits of the HMAC, base64url.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { type MaskedValue, maskCredentials, type parseMaskPath } from './mask.ts';
import type { AuditEvent } from './model.ts';
import { isObject } from './validate.ts';

export const MASKED_ANNOTATION = 'vigil.dev/masked-digests';

export interface MaskDigests {
  /** Names the key (not secret): digests compare only under the same one. */
  key: string;
  /** JSON pointer from the event's root (`/requestObject/data/password`) → digest of the value masked there. */
  values: Record<string, string>;
}

/** A JSON pointer's member token: `~` → `~0`, `/` → `~1` (RFC 6901). */
export function pointerToken(k: string | number): string {
  return String(k).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Where values of the bodies are masked: the history compares these. */
const BODIES = ['requestObject', 'responseObject'] as const;

/** An object reached by the walk of the bodies: its member name and the step it is in. */
interface Step {
  v: object;
  key: string | number;
  up?: Step;
}

function pointerOf(step: Step): string {
  let p = '';
  for (let s: Step | undefined = step; s; s = s.up) p = `/${pointerToken(s.key)}${p}`;
  return p;
}

export class MaskDigester {
  readonly keyId: string;
  /** A KeyObject: createHmac given the raw bytes sets the key up again each time (~40 µs instead of ~2). */
  readonly #key: KeyObject;

  constructor(key: Buffer) {
    if (key.length < 32) throw new Error('a mask digest key has at least 32 bytes');
    this.#key = createSecretKey(key);
    this.keyId = createHmac('sha256', key).update('vigil mask digest key id').digest('hex').slice(0, 16);
  }

  /** The digest of one value (a string as itself, anything else as its JSON). */
  digest(v: unknown): string {
    const text = typeof v === 'string' ? `s:${v}` : `j:${JSON.stringify(v) ?? 'undefined'}`;
    return createHmac('sha256', this.#key).update(text).digest('base64url').slice(0, 22);
  }

  /**
   * Masks `e` as maskCredentials does and annotates the digests of the values masked in its bodies. An annotation
   * of that name the event arrived with is dropped: only the collector's own digests are kept.
   */
  mask(e: AuditEvent, extraPaths?: readonly ReturnType<typeof parseMaskPath>[]): AuditEvent {
    if (e.annotations && MASKED_ANNOTATION in e.annotations) {
      delete e.annotations[MASKED_ANNOTATION];
      if (Object.keys(e.annotations).length === 0) delete e.annotations;
    }
    return maskCredentials(e, extraPaths, (masked) => {
      if (masked.length === 0) return;
      const values = this.#locate(e, masked);
      if (Object.keys(values).length === 0) return;
      const d: MaskDigests = { key: this.keyId, values };
      e.annotations = { ...e.annotations, [MASKED_ANNOTATION]: JSON.stringify(d) };
    });
  }

  /** The pointer and digest of each masked value found in the bodies (a walk that stops when all are found). */
  #locate(e: AuditEvent, masked: MaskedValue[]): Record<string, string> {
    const by = new Map<object, [string | number, unknown][]>();
    for (const [o, k, v] of masked) {
      const list = by.get(o);
      if (list) list.push([k, v]);
      else by.set(o, [[k, v]]);
    }
    const out: Record<string, string> = {};
    let left = by.size;
    // Only objects are walked, and a pointer is spelt out only for a container holding a masked value.
    const stack: Step[] = [];
    for (const b of BODIES) if (e[b] !== null && typeof e[b] === 'object') stack.push({ v: e[b] as object, key: b });
    const seen = new Set<object>();
    const memo = new Map<unknown, string>();
    while (stack.length > 0 && left > 0) {
      const step = stack.pop()!;
      const v = step.v;
      if (seen.has(v)) continue;
      seen.add(v);
      const here = by.get(v);
      if (here) {
        left--;
        const at = pointerOf(step);
        for (const [k, original] of here) {
          // a request and its response mostly hold the same values: one HMAC each
          let d = memo.get(original);
          if (d === undefined) {
            d = this.digest(original);
            memo.set(original, d);
          }
          out[`${at}/${pointerToken(k)}`] = d;
        }
      }
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const x = v[i];
          if (x !== null && typeof x === 'object') stack.push({ v: x, key: i, up: step });
        }
      } else {
        const o = v as Record<string, unknown>;
        for (const k in o) {
          const x = o[k];
          if (x !== null && typeof x === 'object' && Object.hasOwn(o, k)) stack.push({ v: x, key: k, up: step });
        }
      }
    }
    return out;
  }
}

/** The digests an event carries, or undefined (none, or an annotation that is not ours). */
export function maskDigests(e: AuditEvent): MaskDigests | undefined {
  const text = e.annotations?.[MASKED_ANNOTATION];
  if (typeof text !== 'string') return undefined;
  try {
    const d: unknown = JSON.parse(text);
    if (!isObject(d) || typeof d.key !== 'string' || !isObject(d.values)) return undefined;
    const values: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.values)) if (typeof v === 'string') values[k] = v;
    return { key: d.key, values };
  } catch {
    return undefined;
  }
}
