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
