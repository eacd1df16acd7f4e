// Alert messages: a rule's `output` (`${user} ${Verb} HostNetwork Pod ${name} in Namespace ${namespace}.`) or,
// without one, KubeSphere's default sentence (kubesphere-auditing.md §1.2). Each `${p}` is an alias, a list,
// `$N` (the N-th `:`-part of ObjectRef.Name, 1-based: `${$4}` is a service account's name) or a field path.
// Unlike KubeSphere's Go `%s`, numbers print as numbers, missing fields as nothing, and `%` is just a character.

import type { AuditEvent } from '../event/model.ts';
import { ParseError, parsePath, type Reference, type Source } from './parser.ts';
import { goPrint } from './values.ts';

export type Render = (e: AuditEvent) => string;

function show(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'object' && !Array.isArray(v)) return '';
  return goPrint(v);
}

export function compileTemplate(src: Source, resolve: (name: string) => Reference | undefined): Render {
  const text = src.text;
  const parts: string[] = [];
  const slots: Render[] = [];
  const re = /\$\{([^}]*)\}/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    parts.push(text.slice(last, m.index));
    last = m.index + m[0].length;
    const name = m[1].trim();
    const pos = m.index;
    const fail = (msg: string): never => {
      throw new ParseError(src, pos, msg);
    };
    if (!name) fail('empty $' + '{} in output');
    const nth = /^\$(\d+)$/.exec(name);
    if (nth) {
      const n = Number(nth[1]);
      if (n < 1) fail(`\${${name}}: parts of ObjectRef.Name count from $1`);
      slots.push((e) => (e.objectRef?.name ?? '').split(':')[n - 1] ?? '');
      continue;
    }
    const ref = resolve(name);
    if (ref?.kind === 'macro') fail(`\${${name}} is a macro: an output can print aliases, lists and fields`);
    if (ref?.kind === 'list') {
      const joined = ref.items.join(', ');
      slots.push(() => joined);
      continue;
    }
    let path: ReturnType<typeof parsePath>;
    try {
      path = ref?.kind === 'alias' ? ref.path() : parsePath({ ...src, text: name });
    } catch (err) {
      if (err instanceof ParseError) fail(`\${${name}}: ${err.message}`);
      throw err;
    }
    if (path.field.steps.length) fail(`\${${name}}: an output prints whole fields, not [...] selections`);
    const get = path.field.get;
    slots.push((e) => show(get(e)));
  }
  parts.push(text.slice(last));
  if (slots.length === 0) {
    const only = parts[0];
    return () => only;
  }
  return (e) => {
    let s = parts[0];
    for (let i = 0; i < slots.length; i++) s += slots[i](e) + parts[i + 1];
    return s;
  };
}

// Resources whose default message names the workspace rather than the namespace.
const WORKSPACE_RESOURCES = new Set([
  'devops',
  'namespaces',
  'federatednamespaces',
  'workspaceroles',
  'federatedworkspaceroles',
  'workspacemembers',
]);

/** KubeSphere's message for a rule without `output`: `<user> <verb> <resource> '<name>'` and where. */
export const defaultMessage: Render = (e) => {
  const ref = e.objectRef;
  const resource = ref?.resource ?? '';
  let s = `${e.user?.username ?? ''} ${(e.verb ?? '').toLowerCase()} ${resource} '${ref?.name ?? ''}'`;
  if (e.workspace && WORKSPACE_RESOURCES.has(resource)) s += ` in Workspace ${e.workspace}`;
  else if (e.devops) s += ` in Devops ${e.devops}`;
  else if (ref?.namespace && resource !== 'namespaces' && resource !== 'federatednamespaces') {
    s += ` in Namespace ${ref.namespace}`;
  }
  return s;
};
