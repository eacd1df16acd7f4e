// Rule evaluation speed: KubeSphere's default rules, the defaults plus 100 generated conditions, and Falco's whole
// Kubernetes audit ruleset (k8saudit plugin 0.18.0: 48 rules, 45 macros, 18 lists) over the 51 real Kubernetes audit
// events (replicated), against two baselines measured in the same run: a loop calling a trivial predicate per
// event, and JSON.parse of one event (what ingest pays per event anyway).
import { readFileSync } from 'node:fs';
import { decodeEvents } from '../src/event/index.ts';
import type { AuditEvent } from '../src/event/model.ts';
import {
  buildRuleSet,
  createRuleEngine,
  DEFAULT_RULES_FILE,
  loadDefaultRules,
  readRuleSources,
} from '../src/rules/index.ts';

const fixture = (name: string) => new URL(`../test/fixtures/falco/${name}`, import.meta.url);
const text = readFileSync(fixture('k8saudit-events.jsonl'), 'utf8');
const lines = text.trim().split('\n');
const COPIES = 40;
// Distinct objects, as events arriving one by one are, decoded by the event package like every input.
const events: AuditEvent[] = [];
for (let i = 0; i < COPIES; i++) events.push(...decodeEvents(text));

function generated(n: number): string {
  const conds = [
    (i: number) => `ObjectRef.Namespace = "ns-${i}"`,
    (i: number) => `User.username like "user${i}*"`,
    (i: number) => `Verb in ("bind${i}", "escalate") and ObjectRef.Resource = "roles"`,
    (i: number) => `RequestObject.metadata.name regex "^app-${i}-[a-z]+$"`,
    (i: number) => `ResponseStatus.code >= ${400 + i}`,
    (i: number) => `User.groups contains "group-${i}"`,
    (i: number) => `ObjectRef.Resource = "pods" and RequestObject.spec.containers[*].image contains "registry-${i}/"`,
    (i: number) => `not (Verb = "get") and ObjectRef.Namespace = "kube-${i}"`,
    (i: number) => `SourceIPs contains "10.${i}." or UserAgent contains "tool-${i}"`,
    (i: number) => `ObjectRef.Name like "*-canary-${i}" and ObjectRef.Subresource not in ("status", "scale")`,
  ];
  let s =
    'apiVersion: auditing.kubesphere.io/v1alpha1\nkind: Rule\nmetadata: {name: generated, labels: {type: archiving}}\nspec:\n  rules:\n';
  for (let i = 0; i < n; i++) {
    s += `    - {name: g${i}, type: rule, enable: true, priority: INFO, condition: ${JSON.stringify(conds[i % conds.length](i))}}\n`;
  }
  return s;
}

const defaults = await loadDefaultRules();
const plus100 = buildRuleSet([
  ...(await readRuleSources(DEFAULT_RULES_FILE)),
  { file: 'generated.yaml', text: generated(100) },
]);

// The machine is shared: CPU time of this process (not wall time) is what one core spent.
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Events per CPU-second of `fn` over the events, best of several rounds. */
function measure(fn: (e: AuditEvent) => unknown): number {
  let sink = 0;
  const round = () => {
    const t0 = cpuSeconds();
    let n = 0;
    do {
      for (let i = 0; i < events.length; i++) if (fn(events[i])) sink++;
      n += events.length;
    } while (cpuSeconds() - t0 < 0.05);
    return n / (cpuSeconds() - t0);
  };
  for (let i = 0; i < 5; i++) round();
  let best = 0;
  for (let i = 0; i < 10; i++) best = Math.max(best, round());
  if (sink < 0) console.log(sink);
  return best;
}

function measureParse(): number {
  let sink = 0;
  const round = () => {
    const t0 = cpuSeconds();
    let n = 0;
    do {
      for (const l of lines) sink += JSON.parse(l).verb.length;
      n += lines.length;
    } while (cpuSeconds() - t0 < 0.05);
    return n / (cpuSeconds() - t0);
  };
  for (let i = 0; i < 5; i++) round();
  let best = 0;
  for (let i = 0; i < 10; i++) best = Math.max(best, round());
  if (sink < 0) console.log(sink);
  return best;
}

const falcoRules = buildRuleSet([
  { file: 'k8s_audit_rules.yaml', text: readFileSync(fixture('k8s_audit_rules.yaml'), 'utf8') },
]);

const trivial = measure((e) => e.verb === 'create');
const parse = measureParse();
const engineDefault = createRuleEngine({ rules: defaults });
const enginePlus = createRuleEngine({ rules: plus100 });
const def = measure((e) => engineDefault.evaluate(e).archive);
const plus = measure((e) => enginePlus.evaluate(e).archive);
const engineFalco = createRuleEngine({ rules: falcoRules });
const engineFalcoAll = createRuleEngine({
  rules: falcoRules,
  falco: { ruleMatching: 'all', minimumPriority: 'debug' },
});
const falco = measure((e) => engineFalco.evaluate(e).archive);
const falcoAll = measure((e) => engineFalcoAll.evaluate(e).archive);
if (Object.keys(engineDefault.errors()).length || Object.keys(enginePlus.errors()).length) {
  throw new Error(`runtime errors: ${JSON.stringify([engineDefault.errors(), enginePlus.errors()])}`);
}

const fmt = (n: number) => `${(n / 1e6).toFixed(2)} M events/s`;
console.log(`events: ${events.length} (51 real audit events × ${COPIES}), per CPU-second of this process (one core)`);
console.log(`baseline trivial predicate (verb === "create"): ${fmt(trivial)}`);
console.log(`baseline JSON.parse of one event line:         ${fmt(parse)}`);
console.log(
  `default rules (6 rules):      ${fmt(def)}  = ${(def / parse).toFixed(1)}× JSON.parse, ${(trivial / def).toFixed(1)}× slower than trivial`,
);
console.log(
  `default + 100 generated:      ${fmt(plus)}  = ${(plus / parse).toFixed(1)}× JSON.parse, ${(trivial / plus).toFixed(1)}× slower than trivial`,
);
console.log(
  `Falco k8s_audit (48 rules, first): ${fmt(falco)}  = ${(falco / parse).toFixed(1)}× JSON.parse, ${(def / falco).toFixed(1)}× slower than the default rules`,
);
console.log(
  `Falco k8s_audit (all, alerts≥DEBUG): ${fmt(falcoAll)}  = ${(falcoAll / parse).toFixed(1)}× JSON.parse, ${(def / falcoAll).toFixed(1)}× slower than the default rules`,
);
console.log(`target ≥ 1 M events/s per core for the default set: ${def >= 1e6 ? 'met' : 'NOT met'}`);
console.log(`target ≥ 200,000 events/s per core for Falco's ruleset: ${falco >= 2e5 ? 'met' : 'NOT met'}`);
