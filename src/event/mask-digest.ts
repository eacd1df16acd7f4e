// Keyed digests of masked values, so that an object's history can say "value changed (masked)" or "unchanged"
// without the value: the collector masks each event (./mask.ts) and keeps HMAC-SHA256(key, value) of every value it
// masked in the request and response bodies, in the event's annotation `vigil.dev/masked-digests`:
//   {"key": "<key id>", "values": {"/responseObject/data/password": "<digest>", …}}
// (JSON pointers from the event's root). The annotation is part of the stored event, so the hash chain covers it
// like everything else stored. The key is the store's (derived from its signing key: src/integrity/keys.ts
// maskKeyOf), so digests of one store compare and nobody without the key can test guesses against them; digests
// of different keys (`key` differs) are not compared. A digest is 128 bits of the HMAC, base64url.
import { createHmac } from 'node:crypto';
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

export class MaskDigester {
  readonly keyId: string;
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length < 32) throw new Error('a mask digest key has at least 32 bytes');
    this.#key = key;
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
    const stack: [unknown, string][] = BODIES.map((b) => [e[b], `/${b}`]);
    const seen = new Set<unknown>();
    while (stack.length > 0 && left > 0) {
      const [v, at] = stack.pop()!;
      if (v === null || typeof v !== 'object' || seen.has(v)) continue;
      seen.add(v);
      const here = by.get(v);
      if (here) {
        left--;
        for (const [k, original] of here) out[`${at}/${pointerToken(k)}`] = this.digest(original);
      }
      if (Array.isArray(v)) for (let i = 0; i < v.length; i++) stack.push([v[i], `${at}/${i}`]);
      else for (const [k, x] of Object.entries(v)) stack.push([x, `${at}/${pointerToken(k)}`]);
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
