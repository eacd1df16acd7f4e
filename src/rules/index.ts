// Public surface of the rule engine: KubeSphere-compatible Rule and Webhook resources, compiled once, evaluated
// per event into a decision (ignore, archive, alert).

export { KUBESPHERE_RULES_ANNOTATION } from '../event/model.ts';
export { type BacktestReport, backtest, HISTORY_NOTE, type RuleOutcome, SAMPLES } from './backtest.ts';
export { type CompatFinding, checkCompat } from './compat.ts';
export { DEFAULT_RULE_LIMITS, type RuleLimits } from './compile.ts';
export { type Alert, createRuleEngine, type Decision, type RuleEngine, type RuleEngineOptions } from './engine.ts';
export {
  FALCO_PRIORITIES,
  FALCO_RULES_ANNOTATION,
  type FalcoMatch,
  type FalcoOptions,
  type FalcoPriority,
  type FalcoRuleSet,
  parseFalcoPriority,
} from './falco/index.ts';
export {
  buildRuleSet,
  type CompiledRule,
  DEFAULT_RULES_FILE,
  isFalcoRulesFile,
  loadDefaultRules,
  loadRules,
  RuleError,
  type RuleItem,
  RuleLoadError,
  type RuleResource,
  type RuleSet,
  type RuleSource,
  readRuleSources,
  ruleNotices,
} from './load.ts';
export { RuleRuntimeError } from './values.ts';
export { type RuleWatcher, watchRules } from './watch.ts';
export {
  DEFAULT_WEBHOOK,
  isPriority,
  loadWebhookFile,
  type Priority,
  parseWebhook,
  priorityRank,
  type Receiver,
  type WebhookConfig,
} from './webhook.ts';
