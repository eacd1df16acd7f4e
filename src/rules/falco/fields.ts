// Every field a Falco rule for the k8s_audit source may name: the k8saudit plugin's `ka.*`, the json plugin's
// `json.*` and their `jevt.*` aliases (plus Falco's former built-in `jevt.time` and `jevt.time.iso8601`), and the
// generic `evt.*` fields libsinsp gives plugin events. One table: conditions, exceptions and outputs resolve names
// here, and `vigil rules check` reports any other name as unknown.

import type { AuditEvent } from '../../event/model.ts';
import { clockTime, compilePointer, dateTime, eventNanos, hasTime, indentedView, iso8601Time } from './json.ts';
import { type Extracted, type FieldArg, type FieldDef, K8SAUDIT_FIELDS } from './k8saudit.ts';

export type { Extracted, FieldArg, FieldDef } from './k8saudit.ts';

/** The event source Falco's k8saudit plugin produces: rules of this source are Vigil's. */
export const K8S_AUDIT_SOURCE = 'k8s_audit';

const nanos = (e: AuditEvent) => eventNanos(e);
const timeText = (format: (ns: bigint) => string) => (e: AuditEvent) => {
  const ns = nanos(e);
  return ns === undefined ? undefined : format(ns);
};

function jsonPluginFields(prefix: string): FieldDef[] {
  return [
    {
      name: `${prefix}.value`,
      type: 'string',
      list: false,
      arg: 'key',
      extract: (e, a) => compilePointer(a.key)(e),
      bind: (a) => compilePointer(a.key),
    },
    { name: `${prefix}.obj`, type: 'string', list: false, arg: 'none', extract: indentedView },
    {
      name: `${prefix}.rawtime`,
      type: 'string',
      list: false,
      arg: 'none',
      extract: (e) => nanos(e)?.toString(),
      exists: hasTime,
    },
  ];
}

const plain = (name: string, extract: (e: AuditEvent) => Extracted, type: FieldDef['type'] = 'string'): FieldDef => ({
  name,
  type,
  list: false,
  arg: 'none',
  extract,
  // Every time field has a value exactly when the event has a time.
  ...(name.includes('time') ? { exists: hasTime } : {}),
});

export const FIELDS: ReadonlyMap<string, FieldDef> = new Map(
  [
    ...K8SAUDIT_FIELDS,
    ...jsonPluginFields('json'),
    ...jsonPluginFields('jevt'),
    plain('jevt.time', timeText(clockTime)),
    plain('jevt.time.iso8601', timeText(iso8601Time)),
    plain('evt.time', timeText(clockTime)),
    plain('evt.time.iso8601', timeText(iso8601Time)),
    plain('evt.datetime', timeText(dateTime)),
    plain('evt.rawtime', nanos, 'uint64'),
    plain('evt.source', () => K8S_AUDIT_SOURCE),
    plain('evt.pluginname', () => 'k8saudit'),
  ].map((f) => [f.name, f]),
);

/** A field name (and argument) a rule cannot use, with the offset of the problem in the name's text. */
export class FieldError extends Error {
  readonly offset: number;
  constructor(message: string, offset = 0) {
    super(message);
    this.name = 'FieldError';
    this.offset = offset;
  }
}

export interface BoundField {
  def: FieldDef;
  /** As Falco names it in output_fields: `ka.uri.param[command]`. */
  text: string;
  get: (e: AuditEvent) => Extracted;
  /** Whether the field has a value, where that is cheaper to know than the value. */
  exists?: (e: AuditEvent) => boolean;
}

const NO_ARG: FieldArg = Object.freeze({ index: -1, key: '' });

/** Resolves `name[arg]` to its extractor; `argOffset` is where the argument starts in the name's text. */
export function bindField(name: string, arg: string | undefined): BoundField {
  const def = FIELDS.get(name);
  if (def === undefined) {
    const near = [...FIELDS.keys()].filter((n) => n.startsWith(`${name.split('.').slice(0, 2).join('.')}.`));
    const hint = near.length && near.length <= 12 ? `; did you mean one of ${near.join(', ')}?` : '';
    throw new FieldError(`unknown field "${name}" for source ${K8S_AUDIT_SOURCE}${hint}`);
  }
  const text = arg === undefined ? name : `${name}[${arg}]`;
  const argAt = name.length + 1;
  let a = NO_ARG;
  if (def.arg === 'none' && arg !== undefined) {
    throw new FieldError(`${name} does not take an argument, found [${arg}]`, argAt);
  }
  if (def.arg === 'key') {
    if (arg === undefined) throw new FieldError(`${name} requires an argument: ${name}[…]`);
    a = { index: -1, key: arg };
  }
  if (def.arg === 'index' && arg !== undefined) {
    if (!/^\d+$/.test(arg)) throw new FieldError(`${name} takes a numeric index [n], not [${arg}]`, argAt);
    a = { index: Number(arg), key: '' };
  }
  const extract = def.extract;
  const get = def.bind
    ? def.bind(a)
    : a === NO_ARG
      ? (e: AuditEvent) => extract(e, NO_ARG)
      : (e: AuditEvent) => extract(e, a);
  return { def, text, get, ...(def.exists ? { exists: def.exists } : {}) };
}
