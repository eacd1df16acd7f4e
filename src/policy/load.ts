// Loading an audit policy file: YAML → a validated `Policy`, or a `PolicyError` that names the file, line,
// column and field of every problem. kube-apiserver falls back to lenient decoding (and only logs a warning)
// when a policy has unknown fields; Vigil refuses instead, because a silently ignored `groups:` turns a
// narrow rule into a broad one (seed 004).
import { readFile } from 'node:fs/promises';
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
  type Scalar,
} from 'yaml';
import { LEVELS, type Level, STAGES, type Stage } from '../event/model.ts';
import type { GroupResources, Policy, PolicyRule } from './types.ts';

/**
 * Accepted `apiVersion`s. kube-apiserver (1.24+) only takes v1; v1beta1 has the same Policy shape and old
 * policies (blog posts, Helm charts, 1.1x clusters) still say v1beta1, so Vigil reads both.
 */
export const POLICY_API_VERSIONS = ['audit.k8s.io/v1', 'audit.k8s.io/v1beta1'] as const;

/** One problem in a policy file. `line`/`column` are 1-based; `path` is the field path (`rules[0].level`). */
export interface PolicyProblem {
  line: number;
  column: number;
  path: string;
  message: string;
}

/**
 * A policy that cannot be used. `file`/`line`/`column`/`path` are those of the first problem; `problems`
 * lists them all (kube-apiserver also reports every validation error at once). The message has one
 * `file:line:col: path: problem` line per problem.
 */
export class PolicyError extends Error {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly path: string;
  readonly problems: PolicyProblem[];
  constructor(file: string, unsorted: PolicyProblem[]) {
    // In file order, so the first problem is the one an editor should jump to.
    const problems = unsorted.toSorted((a, b) => a.line - b.line || a.column - b.column);
    super(problems.map((p) => formatProblem(file, p)).join('\n'));
    this.name = 'PolicyError';
    this.file = file;
    this.problems = problems;
    const first = problems[0]!;
    this.line = first.line;
    this.column = first.column;
    this.path = first.path;
  }
}

function formatProblem(file: string, p: PolicyProblem): string {
  return `${file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

const POLICY_FIELDS = ['apiVersion', 'kind', 'metadata', 'rules', 'omitStages', 'omitManagedFields'];
const RULE_FIELDS = [
  'level',
  'users',
  'userGroups',
  'verbs',
  'resources',
  'namespaces',
  'nonResourceURLs',
  'omitStages',
  'omitManagedFields',
];
const GROUP_RESOURCES_FIELDS = ['group', 'resources', 'resourceNames'];

// apimachinery's IsDNS1123Subdomain: lower-case RFC 1123 labels joined by dots, at most 253 characters.
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Parses and validates a policy. `file` only names the source in error messages. */
export function loadPolicy(text: string, file = 'policy.yaml'): Policy {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const reader = new Reader(lineCounter);
  const list = Array.isArray(docs) ? docs : [];
  for (const doc of list) {
    for (const e of doc.errors) reader.at(e.pos[0], '', yamlMessage(e.message));
  }
  if (reader.problems.length > 0) throw new PolicyError(file, reader.problems);
  if (list.length === 0 || (list.length === 1 && list[0]!.contents === null)) {
    reader.at(0, '', 'empty file: expected an audit Policy (apiVersion: audit.k8s.io/v1, kind: Policy)');
    throw new PolicyError(file, reader.problems);
  }
  if (list.length > 1) {
    // kube-apiserver reads one Policy per file; there is no defined meaning for several.
    reader.at(list[1]!.range[0], '', 'a policy file holds exactly one YAML document; found a second one here');
    throw new PolicyError(file, reader.problems);
  }
  const doc = list[0]!;
  reader.doc = doc;
  const policy = reader.policy(doc.contents as Node);
  if (reader.problems.length > 0 || policy === undefined) throw new PolicyError(file, reader.problems);
  return policy;
}

/** Reads a policy file; errors name the path as given. */
export async function loadPolicyFile(path: string): Promise<Policy> {
  return loadPolicy(await readFile(path, 'utf8'), path);
}

function yamlMessage(message: string): string {
  // The yaml package appends ` at line L, column C` and a code excerpt; the position is reported separately.
  return `invalid YAML: ${message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '')}`;
}

/** Walks the YAML node tree, converting and validating as it goes and collecting positioned problems. */
class Reader {
  readonly problems: PolicyProblem[] = [];
  private readonly lines: LineCounter;
  /** The document aliases (`*name`) resolve against. */
  doc: Document.Parsed | undefined;

  constructor(lines: LineCounter) {
    this.lines = lines;
  }

  at(offset: number, path: string, message: string): void {
    const { line, col } = this.lines.linePos(offset);
    this.problems.push({ line: Math.max(line, 1), column: col, path, message });
  }

  /** The node with aliases resolved; null for an absent value and for YAML null (`~`, `null`, nothing). */
  private node(n: Node | null | undefined): Node | null {
    // An alias with no anchor stays an alias, which every check then reports as "an unknown alias".
    const v = n && isAlias(n) ? ((this.doc && (n.resolve(this.doc) as Node | undefined)) ?? n) : n;
    return !v || (isScalar(v) && v.value === null) ? null : v;
  }

  private start(n: Node | null | undefined, fallback: number): number {
    return n?.range?.[0] ?? fallback;
  }

  /** The fields of a mapping, with unknown ones reported (and a suggestion when one is close). */
  private fields(
    n: Node,
    path: string,
    known: string[],
    what: string,
  ): Map<string, { key: Node; value: Node | null }> | undefined {
    if (!isMap(n)) {
      this.at(this.start(n, 0), path, `expected ${what} (a mapping), got ${describe(n)}`);
      return undefined;
    }
    const out = new Map<string, { key: Node; value: Node | null }>();
    for (const pair of n.items) {
      const key = this.node(pair.key as Node);
      const keyAt = this.start(key, pos(n));
      if (!key || !isScalar(key) || typeof key.value !== 'string') {
        this.at(keyAt, path, `field names must be strings, got ${describe(key)}`);
        continue;
      }
      const name = key.value;
      const fieldPath = path ? `${path}.${name}` : name;
      if (!known.includes(name)) {
        const hint = suggest(name, known);
        this.at(keyAt, fieldPath, `unknown field${hint ? ` (did you mean "${hint}"?)` : ''}`);
        continue;
      }
      out.set(name, { key, value: this.node(pair.value as Node | null) });
    }
    return out;
  }

  private string(v: Node | null, at: number, path: string): string | undefined {
    if (isScalar(v) && typeof v.value === 'string') return v.value;
    this.at(this.start(v, at), path, `expected a string, got ${describe(v)}`);
    return undefined;
  }

  private bool(v: Node | null, at: number, path: string): boolean | undefined {
    if (isScalar(v) && typeof v.value === 'boolean') return v.value;
    this.at(this.start(v, at), path, `expected true or false, got ${describe(v)}`);
    return undefined;
  }

  private strings(v: Node | null, at: number, path: string): string[] | undefined {
    if (!isSeq(v)) {
      this.at(this.start(v, at), path, `expected a list of strings, got ${describe(v)}`);
      return undefined;
    }
    const out: string[] = [];
    v.items.forEach((item, i) => {
      const s = this.string(this.node(item as Node), pos(v), `${path}[${i}]`);
      if (s !== undefined) out.push(s);
    });
    return out;
  }

  private stages(v: Node | null, at: number, path: string): Stage[] | undefined {
    if (!isSeq(v)) {
      this.at(this.start(v, at), path, `expected a list of stages, got ${describe(v)}`);
      return undefined;
    }
    const out: Stage[] = [];
    v.items.forEach((raw, i) => {
      const item = this.node(raw as Node);
      const s = this.string(item, pos(v), `${path}[${i}]`);
      if (s === undefined) return;
      if ((STAGES as readonly string[]).includes(s)) out.push(s as Stage);
      else this.at(this.start(item, pos(v)), `${path}[${i}]`, unsupported(s, STAGES));
    });
    return out;
  }

  policy(root: Node | null): Policy | undefined {
    if (!root) {
      this.at(0, '', 'empty file: expected an audit Policy (apiVersion: audit.k8s.io/v1, kind: Policy)');
      return undefined;
    }
    const f = this.fields(root, '', POLICY_FIELDS, 'an audit Policy');
    if (!f) return undefined;
    const rootAt = this.start(root, 0);

    let apiVersion: string | undefined;
    const av = f.get('apiVersion');
    if (!av || av.value === null) {
      this.at(rootAt, 'apiVersion', `required: one of ${POLICY_API_VERSIONS.join(', ')}`);
    } else {
      apiVersion = this.string(av.value, this.start(av.key, rootAt), 'apiVersion');
      if (apiVersion !== undefined && !(POLICY_API_VERSIONS as readonly string[]).includes(apiVersion)) {
        const extra = apiVersion === 'audit.k8s.io/v1alpha1' ? ' (v1alpha1 policies: change it to v1)' : '';
        this.at(this.start(av.value, rootAt), 'apiVersion', `${unsupported(apiVersion, POLICY_API_VERSIONS)}${extra}`);
      }
    }
    const kind = f.get('kind');
    if (!kind || kind.value === null) {
      this.at(rootAt, 'kind', 'required: Policy');
    } else {
      const k = this.string(kind.value, this.start(kind.key, rootAt), 'kind');
      if (k === 'PolicyList') {
        // A PolicyList has no defined meaning for kube-apiserver's --audit-policy-file either.
        this.at(this.start(kind.value, rootAt), 'kind', 'a PolicyList is not supported: give one Policy per file');
      } else if (k !== undefined && k !== 'Policy') {
        this.at(this.start(kind.value, rootAt), 'kind', unsupported(k, ['Policy']));
      }
    }

    const policy: Policy = { apiVersion: apiVersion ?? '', kind: 'Policy', rules: [] };
    const meta = f.get('metadata');
    if (meta && meta.value !== null) {
      if (isMap(meta.value)) policy.metadata = meta.value.toJS(this.doc!) as Record<string, unknown>;
      else this.at(this.start(meta.value, rootAt), 'metadata', `expected a mapping, got ${describe(meta.value)}`);
    }
    const omitStages = f.get('omitStages');
    if (omitStages && omitStages.value !== null) {
      const s = this.stages(omitStages.value, this.start(omitStages.key, rootAt), 'omitStages');
      if (s) policy.omitStages = s;
    }
    const omf = f.get('omitManagedFields');
    if (omf && omf.value !== null) {
      const b = this.bool(omf.value, this.start(omf.key, rootAt), 'omitManagedFields');
      if (b !== undefined) policy.omitManagedFields = b;
    }

    const rules = f.get('rules');
    if (!rules || rules.value === null || (isSeq(rules.value) && rules.value.items.length === 0)) {
      // kube-apiserver: "loaded illegal policy with 0 rules".
      this.at(rules ? this.start(rules.key, rootAt) : rootAt, 'rules', 'a policy needs at least one rule');
    } else if (!isSeq(rules.value)) {
      this.at(this.start(rules.value, rootAt), 'rules', `expected a list of rules, got ${describe(rules.value)}`);
    } else {
      rules.value.items.forEach((raw, i) => {
        const item = this.node(raw as Node);
        const rule = this.rule(item, this.start(item, pos(rules.value!)), `rules[${i}]`);
        if (rule) policy.rules.push(rule);
      });
    }
    return policy;
  }

  private rule(n: Node | null, at: number, path: string): PolicyRule | undefined {
    if (!n) {
      this.at(at, path, 'expected a rule (a mapping), got nothing');
      return undefined;
    }
    const f = this.fields(n, path, RULE_FIELDS, 'a rule');
    if (!f) return undefined;
    const ruleAt = this.start(n, at);
    const rule: PolicyRule = { level: 'None' };

    const level = f.get('level');
    if (!level || level.value === null) {
      this.at(ruleAt, `${path}.level`, `required: one of ${LEVELS.join(', ')}`);
    } else {
      const l = this.string(level.value, this.start(level.key, ruleAt), `${path}.level`);
      if (l === '') this.at(this.start(level.value, ruleAt), `${path}.level`, `required: one of ${LEVELS.join(', ')}`);
      else if (l !== undefined) {
        if ((LEVELS as readonly string[]).includes(l)) rule.level = l as Level;
        else this.at(this.start(level.value, ruleAt), `${path}.level`, unsupported(l, LEVELS));
      }
    }

    for (const name of ['users', 'userGroups', 'verbs', 'namespaces', 'nonResourceURLs'] as const) {
      const e = f.get(name);
      if (!e || e.value === null) continue;
      const list = this.strings(e.value, this.start(e.key, ruleAt), `${path}.${name}`);
      if (list) rule[name] = list;
    }

    const urls = f.get('nonResourceURLs');
    if (rule.nonResourceURLs && urls && isSeq(urls.value)) {
      const seq = urls.value;
      rule.nonResourceURLs.forEach((url, i) => {
        const itemAt = this.start(seq.items[i] as Node, pos(seq));
        const p = `${path}.nonResourceURLs[${i}]`;
        if (url === '*') return;
        if (!url.startsWith('/'))
          this.at(itemAt, p, `"${url}": non-resource URL rules must begin with a '/' character`);
        if (url !== '' && url.slice(0, -1).includes('*')) {
          this.at(itemAt, p, `"${url}": non-resource URL wildcards '*' must be the final character of the rule`);
        }
      });
    }

    const resources = f.get('resources');
    if (resources && resources.value !== null) {
      const v = resources.value;
      if (!isSeq(v)) {
        this.at(
          this.start(v, ruleAt),
          `${path}.resources`,
          `expected a list of {group, resources}, got ${describe(v)}`,
        );
      } else {
        rule.resources = [];
        v.items.forEach((raw, i) => {
          const item = this.node(raw as Node);
          const gr = this.groupResources(item, this.start(item, pos(v)), `${path}.resources[${i}]`);
          if (gr) rule.resources!.push(gr);
        });
      }
    }

    if (rule.nonResourceURLs?.length && (rule.resources?.length || rule.namespaces?.length)) {
      this.at(
        this.start(urls!.key, ruleAt),
        `${path}.nonResourceURLs`,
        'rules cannot apply to both regular resources (resources, namespaces) and non-resource URLs',
      );
    }

    const omitStages = f.get('omitStages');
    if (omitStages && omitStages.value !== null) {
      const s = this.stages(omitStages.value, this.start(omitStages.key, ruleAt), `${path}.omitStages`);
      if (s) rule.omitStages = s;
    }
    const omf = f.get('omitManagedFields');
    if (omf && omf.value !== null) {
      const b = this.bool(omf.value, this.start(omf.key, ruleAt), `${path}.omitManagedFields`);
      if (b !== undefined) rule.omitManagedFields = b;
    }
    return rule;
  }

  private groupResources(n: Node | null, at: number, path: string): GroupResources | undefined {
    if (!n) {
      this.at(at, path, 'expected {group, resources, resourceNames}, got nothing');
      return undefined;
    }
    const f = this.fields(n, path, GROUP_RESOURCES_FIELDS, '{group, resources, resourceNames}');
    if (!f) return undefined;
    const entryAt = this.start(n, at);
    const gr: GroupResources = {};
    const group = f.get('group');
    if (group && group.value !== null) {
      const g = this.string(group.value, this.start(group.key, entryAt), `${path}.group`);
      if (g !== undefined) {
        gr.group = g;
        if (g !== '' && g !== '*') {
          const why = groupProblem(g);
          if (why) this.at(this.start(group.value, entryAt), `${path}.group`, `"${g}": ${why}`);
        }
      }
    }
    for (const name of ['resources', 'resourceNames'] as const) {
      const e = f.get(name);
      if (!e || e.value === null) continue;
      const list = this.strings(e.value, this.start(e.key, entryAt), `${path}.${name}`);
      if (list) gr[name] = list;
    }
    if (gr.resourceNames?.length && !gr.resources?.length) {
      const e = f.get('resourceNames')!;
      this.at(
        this.start(e.key, entryAt),
        `${path}.resourceNames`,
        'using resourceNames requires at least one resource',
      );
    }
    return gr;
  }
}

/** Why a group name is not a lower-case DNS subdomain (apimachinery's wording), or undefined when it is. */
function groupProblem(g: string): string | undefined {
  if (g.length > 253) return 'must be no more than 253 characters';
  if (DNS1123_SUBDOMAIN.test(g)) return undefined;
  const hint = g.includes('/') ? '; an API group has no version ("apps", not "apps/v1")' : '';
  return (
    'must be a lower-case DNS subdomain (e.g. "apps", "rbac.authorization.k8s.io"), "" for the core group ' +
    `or "*" for all groups${hint}`
  );
}

function unsupported(value: string, allowed: readonly string[]): string {
  const hint = suggest(value, allowed);
  return `unsupported value "${value}": must be one of ${allowed.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`;
}

function describe(n: Node | null | undefined): string {
  if (n === null || n === undefined) return 'null';
  if (isMap(n)) return 'a mapping';
  if (isSeq(n)) return 'a list';
  if (isAlias(n)) return `an unknown alias *${n.source}`;
  if (isScalar(n)) {
    const v = (n as Scalar).value;
    if (v === null) return 'null';
    if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
    return `${typeof v} ${String(v)}`;
  }
  return 'an unsupported YAML node';
}

/**
 * The closest known name, for "did you mean" hints: case-insensitive equality, edit distance ≤ 2, or a known
 * name ending in it (`groups` in a rule → `userGroups`).
 */
function suggest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  const lower = name.toLowerCase();
  for (const k of known) {
    const kl = k.toLowerCase();
    const d = kl === lower ? 0 : lower.length >= 4 && kl.endsWith(lower) ? 2 : editDistance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** Where a node starts in the source (0 when the yaml package gave it no range). */
function pos(n: Node | null | undefined): number {
  return n?.range?.[0] ?? 0;
}
