// Public surface of Vigil's Falco dialect: Falco rules files (lists, macros, rules of source k8s_audit) loaded with
// Falco's semantics and evaluated on canonical events with the k8saudit plugin's fields.

export { FALCO_RULES_ANNOTATION, type FalcoAlert, type FalcoMatch, type FalcoOptions, falcoPlan } from './decision.ts';
export { FIELDS as FALCO_FIELDS, K8S_AUDIT_SOURCE } from './fields.ts';
export { alertTime, clockTime, eventNanos } from './json.ts';
export { ENGINE_VERSION, type FalcoProblem, isFalcoRulesText, PLUGIN_VERSIONS } from './loader.ts';
export { type OutputFieldValue, printValue } from './output.ts';
export {
  FALCO_PRIORITIES,
  type FalcoPriority,
  falcoPriorityRank,
  formatFalcoPriority,
  parseFalcoPriority,
} from './priority.ts';
export { buildFalcoRuleSet, type FalcoRule, type FalcoRuleSet } from './ruleset.ts';
