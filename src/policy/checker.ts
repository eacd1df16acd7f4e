// The policy checker: kube-apiserver's `policyRuleEvaluator` (AS/pkg/audit/policy/checker.go), same semantics,
// with every rule compiled once into sets and one closure so that a request costs a few hash lookups per rule.
import { type Level, STAGES, type Stage } from '../event/model.ts';
import type {
  GroupResources,
  Policy,
  PolicyDecision,
  PolicyEvaluator,
  PolicyRule,
  RequestAttributes,
} from './types.ts';

/** A compiled rule: does it match these attributes? `combined` is `resource` or `resource/subresource`. */
type RuleMatcher = (a: RequestAttributes, combined: string) => boolean;

/**
 * Builds the evaluator for a validated policy. Decisions are computed once per rule and shared: they are
 * frozen, so a caller cannot change what the next request gets.
 */
export function createPolicyEvaluator(policy: Policy): PolicyEvaluator {
  const policyOmitManagedFields = policy.omitManagedFields ?? false;
  const matchers: RuleMatcher[] = [];
  const decisions: PolicyDecision[] = [];
  policy.rules.forEach((rule, i) => {
    matchers.push(compileRule(rule));
    decisions.push(
      decision(
        rule.level,
        unionStages(policy.omitStages, rule.omitStages),
        rule.omitManagedFields ?? policyOmitManagedFields,
        i,
      ),
    );
  });
  // No rule matched: level None with the policy's own omitStages (checker.go's DefaultAuditLevel).
  const fallback = decision('None', unionStages(policy.omitStages, undefined), policyOmitManagedFields, null);
  const n = matchers.length;
  return {
    evaluate(a: RequestAttributes): PolicyDecision {
      const combined = a.subresource === '' ? a.resource : `${a.resource}/${a.subresource}`;
      for (let i = 0; i < n; i++) {
        if (matchers[i]!(a, combined)) return decisions[i]!;
      }
      return fallback;
    },
  };
}

function decision(level: Level, omitStages: Stage[], omitManagedFields: boolean, rule: number | null): PolicyDecision {
  return Object.freeze({ level, omitStages: Object.freeze(omitStages) as Stage[], omitManagedFields, rule });
}

/**
 * The policy's and the rule's omitStages, without duplicates. Go returns them in map order (unspecified);
 * Vigil sorts them in stage order so that output is deterministic.
 */
export function unionStages(a: readonly Stage[] | undefined, b: readonly Stage[] | undefined): Stage[] {
  return STAGES.filter((s) => a?.includes(s) || b?.includes(s));
}

/** A set for a non-empty list; null for an empty or missing one, which means "any". */
function setOf(list: readonly string[] | undefined): Set<string> | null {
  return list && list.length > 0 ? new Set(list) : null;
}

function compileRule(rule: PolicyRule): RuleMatcher {
  const users = setOf(rule.users);
  const userGroups = setOf(rule.userGroups);
  const verbs = setOf(rule.verbs);
  const namespaces = setOf(rule.namespaces);
  // Namespaces or resources make a resource rule, even when nonResourceURLs is also set (validation forbids that).
  const isResourceRule = namespaces !== null || (rule.resources?.length ?? 0) > 0;
  const resources = isResourceRule ? compileResources(rule.resources) : null;
  const urls = !isResourceRule && rule.nonResourceURLs?.length ? compilePaths(rule.nonResourceURLs) : null;

  return (a, combined) => {
    if (users !== null && (a.user === undefined || !users.has(a.user.username ?? ''))) return false;
    if (userGroups !== null) {
      if (a.user === undefined) return false;
      const groups = a.user.groups;
      let found = false;
      if (groups) {
        for (let i = 0; i < groups.length; i++) {
          if (userGroups.has(groups[i]!)) {
            found = true;
            break;
          }
        }
      }
      if (!found) return false;
    }
    if (verbs !== null && !verbs.has(a.verb)) return false;
    if (isResourceRule) {
      if (!a.resourceRequest) return false;
      // Cluster-scoped and all-namespace requests have namespace "", which `namespaces: [""]` matches.
      if (namespaces !== null && !namespaces.has(a.namespace)) return false;
      return resources === null || resources(a, combined);
    }
    if (urls !== null) return !a.resourceRequest && urls(a.path);
    // Neither resource nor non-resource fields: the rule matches every request.
    return true;
  };
}

/** One `GroupResources` entry, precompiled. */
interface CompiledGroupResources {
  /** The group to match, or null for `"*"` (any group, 1.36+). */
  group: string | null;
  /** No `resources`: every resource and subresource of the group. */
  all: boolean;
  names: Set<string> | null;
  /** `"*"`: every resource and subresource. */
  star: boolean;
  /** Every resource string, for the exact comparison with `resource[/subresource]`. */
  exact: Set<string>;
  // "*/X" entries: X, matched against a non-empty subresource (never a bare resource).
  anyResourceWithSubresource: Set<string>;
  // "R/*" entries: R, matched against the resource whatever the subresource (so "pods/*" matches pods).
  anySubresourceOf: Set<string>;
}

function compileResources(
  list: readonly GroupResources[] | undefined,
): ((a: RequestAttributes, c: string) => boolean) | null {
  if (!list || list.length === 0) return null;
  const entries: CompiledGroupResources[] = list.map((gr) => {
    const resources = gr.resources ?? [];
    const group = gr.group ?? '';
    return {
      group: group === '*' ? null : group,
      all: resources.length === 0,
      names: setOf(gr.resourceNames),
      star: resources.includes('*'),
      exact: new Set(resources),
      anyResourceWithSubresource: new Set(resources.filter((r) => r.startsWith('*/')).map((r) => r.slice(2))),
      anySubresourceOf: new Set(resources.filter((r) => r.endsWith('/*')).map((r) => r.slice(0, -2))),
    };
  });
  const n = entries.length;
  return (a, combined) => {
    for (let i = 0; i < n; i++) {
      const e = entries[i]!;
      if (e.group !== null && e.group !== a.apiGroup) continue;
      if (e.all) return true;
      // resourceNames restricts every resource string of the entry; a request without a name never matches.
      if (e.names !== null && !e.names.has(a.name)) continue;
      if (e.star || e.exact.has(combined)) return true;
      if (a.subresource !== '' && e.anyResourceWithSubresource.has(a.subresource)) return true;
      if (e.anySubresourceOf.has(a.resource)) return true;
    }
    return false;
  };
}

/** nonResourceURLs: `*`, exact paths, and `prefix*` as a plain string prefix (no segment boundary). */
function compilePaths(specs: readonly string[]): (path: string) => boolean {
  if (specs.includes('*')) return () => true;
  const exact = new Set(specs);
  // Go trims every trailing `*` (strings.TrimRight), so `/a**` is the prefix `/a`.
  const prefixes = specs.filter((s) => s.endsWith('*')).map((s) => s.replace(/\*+$/, ''));
  const n = prefixes.length;
  return (path) => {
    if (exact.has(path)) return true;
    for (let i = 0; i < n; i++) if (path.startsWith(prefixes[i]!)) return true;
    return false;
  };
}
