// The `ka.*` fields of Falco's k8saudit plugin (falcosecurity/plugins plugins/k8saudit, 0.18.0), extracted from the
// canonical event with the plugin's semantics: a value the event lacks, or of a shape the plugin refuses, is "not
// extracted" (no value: every comparison on it is false); a list field yields its values, and none at all counts as
// not extracted; JSON that is not a string is printed as compact JSON. Where the plugin reads a member other than
// the one its description names (ka.sourceips reads requestObject.rules[].sourceIPs, eff_run_as_user reads
// spec.runAsUser), Vigil reads the same member: the same rules then give the same answers.

import type { AuditEvent } from '../../event/model.ts';
import { jsonText, member } from './json.ts';

/** A field's value for one event: a string, the values of a list field (never empty), or undefined. */
export type Extracted = string | string[] | bigint | undefined;

/** A field's argument as written: `[3]` (index, -1 when absent) or `[command]` (key). */
export interface FieldArg {
  index: number;
  key: string;
}

export interface FieldDef {
  name: string;
  /** uint64 fields compare as numbers; every other field is text. */
  type: 'string' | 'uint64';
  /** Yields several values; only `exists`, `in` and `intersects` apply (libsinsp's rule). */
  list: boolean;
  /** `index`: an optional `[n]`; `key`: a required `[text]`. */
  arg: 'none' | 'index' | 'key';
  extract(e: AuditEvent, arg: FieldArg): Extracted;
  /** An extractor for one argument, prepared once (instead of `extract` with the argument each time). */
  bind?(arg: FieldArg): (e: AuditEvent) => Extracted;
  /** Whether the field has a value, where that is cheaper to know than the value. */
  exists?(e: AuditEvent): boolean;
}

/** A present string member (kube-apiserver omits empty strings). */
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The plugin's getValuesRecursive: walk `keys`; at an array take element `index`, or every element when -1. */
function valuesAt(root: unknown, index: number, keys: readonly string[], from = 0): unknown[] | undefined {
  let v = root;
  for (let i = from; i < keys.length; i++) {
    if (Array.isArray(v)) {
      if (index < 0) {
        const out: unknown[] = [];
        for (const el of v) {
          const r = valuesAt(el, index, keys, i);
          if (r === undefined) out.push(undefined);
          else for (const x of r) out.push(x);
        }
        return out;
      }
      if (index >= v.length) return undefined;
      v = v[index];
    }
    // An empty key stands for the value itself (fastjson's Get()).
    if (keys[i] !== '') v = member(v, keys[i]);
    if (v === undefined) return undefined;
  }
  return [v];
}

/** Values as strings, undefined when any is missing (the plugin's arrayAsStrings fails). */
function allStrings(vals: unknown[] | undefined): string[] | undefined {
  if (vals === undefined) return undefined;
  const out: string[] = [];
  for (const v of vals) {
    if (v === undefined) return undefined;
    out.push(jsonText(v));
  }
  return out;
}

/** Present values as strings; none is "not extracted". */
function presentStrings(vals: unknown[] | undefined): string[] | undefined {
  if (vals === undefined) return undefined;
  const out: string[] = [];
  for (const v of vals) if (v !== undefined) out.push(jsonText(v));
  return nonEmpty(out);
}

const nonEmpty = (a: string[]): string[] | undefined => (a.length ? a : undefined);

/** One member path below the event's requestObject, as a single value. */
function reqValue(e: AuditEvent, ...keys: string[]): string | undefined {
  let v: unknown = e.requestObject;
  for (const k of keys) {
    v = member(v, k);
    if (v === undefined) return undefined;
  }
  return jsonText(v);
}

/** A list member of requestObject: must be an array; its elements as strings. */
function reqList(e: AuditEvent, ...keys: string[]): string[] | undefined {
  let v: unknown = e.requestObject;
  for (const k of keys) v = member(v, k);
  if (!Array.isArray(v)) return undefined;
  return nonEmpty(v.map(jsonText));
}

const annotation =
  (key: string) =>
  (e: AuditEvent): string | undefined => {
    const a = e.annotations;
    return a !== undefined && Object.hasOwn(a, key) && typeof a[key] === 'string' ? a[key] : undefined;
  };

/** Command lines or args: each container's array joined by spaces. */
function joinedArrays(vals: unknown[] | undefined): string[] | undefined {
  if (vals === undefined) return undefined;
  const out: string[] = [];
  for (const v of vals) {
    if (v === undefined) continue;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) return undefined;
    out.push(v.join(' '));
  }
  return nonEmpty(out);
}

function hostPorts(vals: unknown[] | undefined): string[] | undefined {
  if (vals === undefined) return undefined;
  const out: string[] = [];
  for (const ports of vals) {
    if (ports === undefined) continue;
    if (!Array.isArray(ports)) return undefined;
    for (const p of ports) {
      const v = member(p, 'hostPort') ?? member(p, 'containerPort');
      if (v !== undefined) out.push(jsonText(v));
    }
  }
  return nonEmpty(out);
}

/** The repository of an image reference, as the plugin cuts it (before the first `:`, then before `@`). */
function repository(image: string): string {
  const colon = image.indexOf(':');
  const name = colon < 0 ? image : image.slice(0, colon);
  const at = name.indexOf('@');
  return at < 0 ? name : name.slice(0, at);
}

/** ka.req.pod.<list>.* for containers, initContainers and ephemeralContainers. */
function containerFields(list: string, withHostPort: boolean): FieldDef[] {
  const at = (e: AuditEvent, index: number, ...sub: string[]) =>
    valuesAt(e.requestObject, index, ['spec', list, ...sub]);
  const sc = (key: string) => (e: AuditEvent, a: FieldArg) => presentStrings(at(e, a.index, 'securityContext', key));
  const effective = (key: string) => (e: AuditEvent, a: FieldArg) => {
    const pod = member(member(e.requestObject, 'spec'), key);
    const fallback = pod === undefined ? '0' : jsonText(pod);
    const vals = at(e, a.index, key);
    return vals && nonEmpty(vals.map((v) => (v === undefined ? fallback : jsonText(v))));
  };
  const images = (e: AuditEvent, a: FieldArg) => allStrings(at(e, a.index, 'image'));
  const defs: [string, FieldDef['extract']][] = [
    ['name', (e, a) => allStrings(at(e, a.index, 'name'))],
    ['image', images],
    ['image.repository', (e, a) => images(e, a)?.map(repository)],
    ['command', (e, a) => joinedArrays(at(e, a.index, 'command'))],
    ['args', (e, a) => joinedArrays(at(e, a.index, 'args'))],
    ['privileged', sc('privileged')],
    ['allow_privilege_escalation', sc('allowPrivilegeEscalation')],
    ['read_only_fs', sc('readOnlyRootFilesystem')],
    ['run_as_user', sc('runAsUser')],
    ['eff_run_as_user', effective('runAsUser')],
    ['run_as_group', sc('runAsGroup')],
    ['eff_run_as_group', effective('runAsGroup')],
    ['proc_mount', sc('procMount')],
    ['add_capabilities', (e, a) => presentStrings(at(e, a.index, 'securityContext', 'capabilities', 'add'))],
  ];
  if (withHostPort) defs.push(['host_port', (e, a) => hostPorts(at(e, a.index, 'ports'))]);
  return defs.map(([n, extract]) => ({
    name: `ka.req.pod.${list}.${n}`,
    type: 'string',
    list: true,
    arg: 'index',
    extract,
  }));
}

/** requestObject.rules[].<key> values, flattened (also ka.sourceips, as the plugin reads it). */
const rulesField = (key: string) => (e: AuditEvent, a: FieldArg) => {
  const vals = valuesAt(e.requestObject, a.index, ['rules', key]);
  if (vals === undefined) return undefined;
  const out: string[] = [];
  for (const v of vals) if (Array.isArray(v)) for (const x of v) out.push(jsonText(x));
  return nonEmpty(out);
};

function subjectNames(e: AuditEvent, kind: string, namespaced = false): string[] | undefined {
  const subjects = member(e.requestObject, 'subjects');
  if (!Array.isArray(subjects)) return undefined;
  const out: string[] = [];
  for (const s of subjects) {
    const k = member(s, 'kind');
    const n = member(s, 'name');
    if (k === undefined || n === undefined || jsonText(k) !== kind) continue;
    if (!namespaced) {
      out.push(jsonText(n));
      continue;
    }
    const ns = member(s, 'namespace');
    if (ns !== undefined) out.push(`${jsonText(ns)}:${jsonText(n)}`);
  }
  return nonEmpty(out);
}

/** Go's url.QueryUnescape; undefined on a malformed escape. */
function queryUnescape(s: string): string | undefined {
  if (!s.includes('%')) return s.replaceAll('+', ' ');
  if (/%(?![0-9a-fA-F]{2})/.test(s)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '%') {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === '+') bytes.push(0x20);
    else for (const b of Buffer.from(c)) bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** `ka.uri.param[key]`: the first value of a query parameter; nothing when the query does not parse (Go's rules). */
function uriParam(e: AuditEvent, a: FieldArg): string | undefined {
  const uri = e.requestURI;
  if (typeof uri !== 'string') return undefined;
  const q = uri.indexOf('?');
  if (q < 0) return undefined;
  const hash = uri.indexOf('#', q);
  const query = uri.slice(q + 1, hash < 0 ? undefined : hash);
  let found: string | undefined;
  for (const part of query.split('&')) {
    if (part === '') continue;
    if (part.includes(';')) return undefined;
    const eq = part.indexOf('=');
    const k = queryUnescape(eq < 0 ? part : part.slice(0, eq));
    const v = queryUnescape(eq < 0 ? '' : part.slice(eq + 1));
    if (k === undefined || v === undefined) return undefined;
    if (k === a.key && found === undefined) found = v;
  }
  return found;
}

function volumeTypes(e: AuditEvent, a: FieldArg): string[] | undefined {
  const vals = valuesAt(e.requestObject, a.index, ['spec', 'volumes', '']);
  if (vals === undefined) return undefined;
  const out: string[] = [];
  for (const v of vals) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) continue;
    for (const k of Object.keys(v)) if (k !== 'name') out.push(k);
  }
  return nonEmpty(out);
}

const HOST_PATHS = ['spec', 'volumes', 'hostPath', 'path'];

function volumeHostPath(e: AuditEvent, a: FieldArg): string | undefined {
  const vals = valuesAt(e.requestObject, -1, HOST_PATHS);
  if (vals === undefined) return undefined;
  const paths = presentStrings(vals) ?? [];
  const prefix = a.key.endsWith('*') ? a.key.slice(0, -1) : undefined;
  return paths.some((p) => (prefix !== undefined && p.startsWith(prefix)) || p === a.key) ? 'true' : 'false';
}

function anyPrivileged(e: AuditEvent): string | undefined {
  const vals = valuesAt(e.requestObject, -1, ['spec', 'containers', 'securityContext', 'privileged']);
  if (vals === undefined) return undefined;
  return vals.includes(true) ? 'true' : 'false';
}

const single = (name: string, extract: (e: AuditEvent, a: FieldArg) => string | undefined): FieldDef => ({
  name,
  type: 'string',
  list: false,
  arg: 'none',
  extract,
});
const keyed = (name: string, extract: (e: AuditEvent, a: FieldArg) => string | undefined): FieldDef => ({
  name,
  type: 'string',
  list: false,
  arg: 'key',
  extract,
});
const list = (
  name: string,
  extract: (e: AuditEvent, a: FieldArg) => string[] | undefined,
  indexed = true,
): FieldDef => ({
  name,
  type: 'string',
  list: true,
  arg: indexed ? 'index' : 'none',
  extract,
});

export const K8SAUDIT_FIELDS: readonly FieldDef[] = [
  single('ka.auditid', (e) => (typeof e.auditID === 'string' ? e.auditID : undefined)),
  single('ka.stage', (e) => (typeof e.stage === 'string' ? e.stage : undefined)),
  single('ka.auth.decision', annotation('authorization.k8s.io/decision')),
  single('ka.auth.reason', annotation('authorization.k8s.io/reason')),
  single('ka.auth.openshift.decision', annotation('authentication.openshift.io/decision')),
  single(
    'ka.validations.admission.policy.failure',
    annotation('validation.policy.admission.k8s.io/validation_failure'),
  ),
  single('ka.security.pod.violations', annotation('pod-security.kubernetes.io/audit-violations')),
  single('ka.auth.openshift.username', annotation('authentication.openshift.io/username')),
  single('ka.user.name', (e) => text(e.user?.username)),
  list('ka.user.groups', (e) => (e.user?.groups?.length ? e.user.groups : undefined), false),
  single('ka.impuser.name', (e) => text(e.impersonatedUser?.username)),
  single('ka.verb', (e) => (typeof e.verb === 'string' ? e.verb : undefined)),
  single('ka.uri', (e) => (typeof e.requestURI === 'string' ? e.requestURI : undefined)),
  keyed('ka.uri.param', uriParam),
  single('ka.target.name', (e) => text(e.objectRef?.name)),
  single('ka.target.namespace', (e) => text(e.objectRef?.namespace)),
  single('ka.target.resource', (e) => text(e.objectRef?.resource)),
  single('ka.target.subresource', (e) => text(e.objectRef?.subresource)),
  single('ka.target.pod.name', (e) =>
    e.objectRef?.resource === 'pods' && !e.objectRef.subresource
      ? ((v) => (v === undefined ? undefined : jsonText(v)))(member(member(e.responseObject, 'metadata'), 'name'))
      : undefined,
  ),
  list('ka.req.binding.subjects', (e) => reqList(e, 'subjects'), false),
  list('ka.req.binding.subjects.user_names', (e) => subjectNames(e, 'User'), false),
  list('ka.req.binding.subjects.serviceaccount_names', (e) => subjectNames(e, 'ServiceAccount'), false),
  list('ka.req.binding.subjects.serviceaccount_ns_names', (e) => subjectNames(e, 'ServiceAccount', true), false),
  list('ka.req.binding.subjects.group_names', (e) => subjectNames(e, 'Group'), false),
  single('ka.req.binding.role', (e) => reqValue(e, 'roleRef', 'name')),
  // Documented as always "N/A"; the plugin (like the original implementation) answers "true".
  keyed('ka.req.binding.subject.has_name', () => 'true'),
  single('ka.req.configmap.name', (e) => text(e.objectRef?.name)),
  single('ka.req.configmap.obj', (e) => reqValue(e, 'data')),
  ...containerFields('containers', true),
  single(
    'ka.req.container.image',
    (e) => allStrings(valuesAt(e.requestObject, 0, ['spec', 'containers', 'image']))?.[0],
  ),
  single('ka.req.container.image.repository', (e) => {
    const image = allStrings(valuesAt(e.requestObject, 0, ['spec', 'containers', 'image']))?.[0];
    return image === undefined ? undefined : repository(image);
  }),
  single('ka.req.pod.host_ipc', (e) => reqValue(e, 'spec', 'hostIPC')),
  single('ka.req.pod.host_network', (e) => reqValue(e, 'spec', 'hostNetwork')),
  single('ka.req.container.host_network', (e) => reqValue(e, 'spec', 'hostNetwork')),
  single('ka.req.pod.host_pid', (e) => reqValue(e, 'spec', 'hostPID')),
  single('ka.req.container.privileged', anyPrivileged),
  single('ka.req.pod.run_as_user', (e) => reqValue(e, 'spec', 'securityContext', 'runAsUser')),
  single('ka.req.pod.run_as_group', (e) => reqValue(e, 'spec', 'securityContext', 'runAsGroup')),
  list('ka.req.role.rules', (e) => reqList(e, 'rules'), false),
  list('ka.req.role.rules.apiGroups', rulesField('apiGroups')),
  list('ka.req.role.rules.nonResourceURLs', rulesField('nonResourceURLs')),
  list('ka.req.role.rules.verbs', rulesField('verbs')),
  list('ka.req.role.rules.resources', rulesField('resources')),
  single('ka.req.pod.fs_group', (e) => reqValue(e, 'spec', 'securityContext', 'fsGroup')),
  list('ka.req.pod.supplemental_groups', (e) => reqList(e, 'spec', 'securityContext', 'supplementalGroups'), false),
  single('ka.req.service.type', (e) => reqValue(e, 'spec', 'type')),
  list('ka.req.service.ports', (e, a) => presentStrings(valuesAt(e.requestObject, a.index, ['spec', 'ports']))),
  list('ka.req.pod.volumes.hostpath', (e, a) => presentStrings(valuesAt(e.requestObject, a.index, HOST_PATHS))),
  keyed('ka.req.volume.hostpath', volumeHostPath),
  list('ka.req.pod.volumes.flexvolume_driver', (e, a) =>
    presentStrings(valuesAt(e.requestObject, a.index, ['spec', 'volumes', 'flexVolume', 'driver'])),
  ),
  list('ka.req.pod.volumes.volume_type', volumeTypes),
  single('ka.resp.name', (e) => {
    const v = member(member(e.responseObject, 'metadata'), 'name');
    return v === undefined ? undefined : jsonText(v);
  }),
  single('ka.response.code', (e) => (e.responseStatus?.code ? String(e.responseStatus.code) : undefined)),
  single('ka.response.reason', (e) => text(e.responseStatus?.reason)),
  single('ka.useragent', (e) => text(e.userAgent)),
  list('ka.sourceips', rulesField('sourceIPs')),
  // The plugin reads the `cluster_name` annotation. Vigil's event has its cluster (a caller's binding wins over what
  // the event claims: docs/collector.md, Several clusters), so the annotation is read only for an event without one.
  single('ka.cluster.name', (e) => text(e.cluster) ?? annotation('cluster_name')(e)),
  ...containerFields('initContainers', true),
  ...containerFields('ephemeralContainers', false),
];
