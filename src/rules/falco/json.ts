// The event as Falco's json and k8saudit plugins see it: the audit.k8s.io JSON object. Vigil keeps the canonical
// event, not the received bytes, so the object is rebuilt from it (encodeKubernetesEvent: member order and omitempty
// as kube-apiserver writes them) once per event, only when a rule reads it (jevt.value, jevt.obj). Values that are
// not strings print as compact JSON with Go's escaping, as the plugins print the apiserver's own bytes.

import { encodeKubernetesEvent, goJson } from '../../event/kubernetes.ts';
import type { AuditEvent } from '../../event/model.ts';
import { parseTimeMicros } from '../../event/time.ts';

const views = new WeakMap<AuditEvent, Record<string, unknown>>();

/** The event's audit.k8s.io object, with the apiVersion it arrived in. */
export function eventView(e: AuditEvent): Record<string, unknown> {
  let v = views.get(e);
  if (v === undefined) {
    v = encodeKubernetesEvent(e);
    const version = e.origin?.kubernetes?.apiVersion;
    if (typeof version === 'string') v.apiVersion = version;
    views.set(e, v);
  }
  return v;
}

/** A JSON value as the plugins turn it into a field value: strings as they are, anything else as compact JSON. */
export function jsonText(v: unknown): string {
  return typeof v === 'string' ? v : goJson(v);
}

/**
 * A member as fastjson's Get finds it: an object's own member (null included), an array's element by decimal index;
 * undefined when there is none.
 */
export function member(v: unknown, key: string): unknown {
  if (v === null || typeof v !== 'object') return undefined;
  if (Array.isArray(v)) {
    if (!/^[+-]?\d+$/.test(key)) return undefined;
    const i = Number(key);
    return i >= 0 && i < v.length ? v[i] : undefined;
  }
  return Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
}

/** Top-level members the canonical event holds exactly as the audit.k8s.io JSON does (no omitempty, no reshaping). */
const DIRECT = new Set([
  'level',
  'auditID',
  'stage',
  'requestURI',
  'verb',
  'requestReceivedTimestamp',
  'stageTimestamp',
  'requestObject',
  'responseObject',
]);

/**
 * `json.value[/a/b~1c]`: an RFC 6901 pointer (the leading `/` optional), walked as the json plugin walks it.
 * Compiled once: a pointer into a member the canonical event holds as the JSON does (`/stage`,
 * `/requestObject/spec`) or into one annotation reads the event directly; any other builds the event's JSON view.
 */
export function compilePointer(arg: string): (e: AuditEvent) => string | undefined {
  if (arg === '') return (e) => jsonText(eventView(e));
  const keys = (arg[0] === '/' ? arg.slice(1) : arg)
    .split('/')
    .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
  const walk = (root: unknown, from: number): string | undefined => {
    let v = root;
    for (let i = from; i < keys.length; i++) {
      v = member(v, keys[i]);
      if (v === undefined) return undefined;
    }
    return jsonText(v);
  };
  const [first] = keys;
  if (DIRECT.has(first)) {
    return (e) => {
      const v = (e as unknown as Record<string, unknown>)[first];
      return v === undefined || v === null ? undefined : walk(v, 1);
    };
  }
  if (first === 'annotations' && keys.length > 1) {
    return (e) => (e.annotations === undefined ? undefined : walk(e.annotations, 1));
  }
  return (e) => walk(eventView(e), 0);
}

/** `json.obj`: the whole event, indented by two spaces as Go's json.Indent writes it. */
export function indentedView(e: AuditEvent): string {
  return JSON.stringify(eventView(e), null, 2).replace(/[<>&\u2028\u2029]/g, (c) => goJson(c).slice(1, -1));
}

// ---- time: the k8saudit plugin stamps each event with its stageTimestamp --------------------------------------

const NS_PER_MS = 1_000_000n;

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/;

/** Whether the event has a time, without computing it (decoding has checked the timestamp's date). */
export function hasTime(e: AuditEvent): boolean {
  return typeof e.stageTimestamp === 'string' && TIMESTAMP.test(e.stageTimestamp);
}

/** The event's time in nanoseconds since the epoch (its stageTimestamp), or undefined when it has none. */
export function eventNanos(e: AuditEvent): bigint | undefined {
  const ts = e.stageTimestamp;
  if (typeof ts !== 'string') return undefined;
  // the one timestamp parser (src/event/time.ts) to microseconds; the fraction's nanosecond digits added back
  const us = parseTimeMicros(ts);
  if (Number.isNaN(us)) return undefined;
  const frac = /\.(\d+)/.exec(ts)?.[1] ?? '';
  const below = frac.length > 6 ? BigInt(frac.slice(6, 9).padEnd(3, '0')) : 0n;
  return BigInt(us) * 1000n + below;
}

function parts(ns: bigint): { date: string; time: string; nanos: string } {
  const ms = Number(ns / NS_PER_MS);
  const iso = new Date(ms).toISOString();
  const nanos = String(((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).padStart(9, '0');
  return { date: iso.slice(0, 10), time: iso.slice(11, 19), nanos };
}

/** `evt.time` / `jevt.time`: `13:58:49.736141000` (Falco prints the host's local time; Vigil prints UTC). */
export function clockTime(ns: bigint): string {
  const p = parts(ns);
  return `${p.time}.${p.nanos}`;
}

/** `evt.time.iso8601`: `2018-10-25T13:58:49.736141000+0000`. */
export function iso8601Time(ns: bigint): string {
  const p = parts(ns);
  return `${p.date}T${p.time}.${p.nanos}+0000`;
}

/** `evt.datetime`: `2018-10-25 13:58:49.736141000`. */
export function dateTime(ns: bigint): string {
  const p = parts(ns);
  return `${p.date} ${p.time}.${p.nanos}`;
}

/** The `time` of Falco's JSON alerts: `2018-10-25T13:58:49.736141000Z`. */
export function alertTime(ns: bigint): string {
  const p = parts(ns);
  return `${p.date}T${p.time}.${p.nanos}Z`;
}
