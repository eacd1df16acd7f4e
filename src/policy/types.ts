// The contract between the policy checker and whoever asks it (capture middleware, `vigil policy test`):
// the request attributes kube-apiserver's checker sees, and the decision it returns.
import type { Level, Stage, UserInfo } from '../event/model.ts';

/** What the policy sees of a request (kube-apiserver's authorizer.Attributes, as far as audit policy reads them). */
export interface RequestAttributes {
  /** The authenticated caller (never the impersonated identity); undefined when authentication failed. */
  user?: UserInfo;
  verb: string;
  /** True for `/api/{v}/…` and `/apis/{group}/{v}/…` requests; false for everything else (non-resource URLs). */
  resourceRequest: boolean;
  /** The URL path without the query string (what `nonResourceURLs` match). */
  path: string;
  /** `""` for cluster-scoped and all-namespace requests. */
  namespace: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  name: string;
}

export interface PolicyDecision {
  level: Level;
  /** Union of the policy's and the matched rule's omitStages. */
  omitStages: Stage[];
  omitManagedFields: boolean;
  /** Index of the first matching rule, or null when none matched (level None). */
  rule: number | null;
}

export interface PolicyEvaluator {
  evaluate(attrs: RequestAttributes): PolicyDecision;
}

/** One `GroupResources` entry of a rule (audit.k8s.io/v1). An omitted `group` is the core group `""`. */
export interface GroupResources {
  group?: string;
  resources?: string[];
  resourceNames?: string[];
}

/** One `PolicyRule` (audit.k8s.io/v1). Every list is optional; an empty or missing list means "any". */
export interface PolicyRule {
  level: Level;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: GroupResources[];
  namespaces?: string[];
  nonResourceURLs?: string[];
  omitStages?: Stage[];
  /** When set (true or false) it overrides the policy's `omitManagedFields`. */
  omitManagedFields?: boolean;
}

/** A validated audit `Policy` as `loadPolicy` returns it. */
export interface Policy {
  apiVersion: string;
  kind: 'Policy';
  metadata?: Record<string, unknown>;
  rules: PolicyRule[];
  omitStages?: Stage[];
  omitManagedFields?: boolean;
}
