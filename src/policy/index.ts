// Public surface of the audit policy: load a Kubernetes audit Policy, evaluate requests against it.
export { attributesFromEvent } from './attributes.ts';
export { createPolicyEvaluator } from './checker.ts';
export { loadPolicy, loadPolicyFile, POLICY_API_VERSIONS, PolicyError, type PolicyProblem } from './load.ts';
export type {
  GroupResources,
  Policy,
  PolicyDecision,
  PolicyEvaluator,
  PolicyRule,
  RequestAttributes,
} from './types.ts';
