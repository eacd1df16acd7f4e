// Policy evaluation per event against a realistic 20-rule policy (in the spirit of GCE's kube-apiserver audit
// policy), over the attributes of Falco's 51 real audit events, replicated. Baseline in the same run:
// JSON.parse of one event's bytes — the least work any consumer of an audit event does.
import { readFileSync } from 'node:fs';
import type { AuditEvent } from '../src/event/model.ts';
import { attributesFromEvent, createPolicyEvaluator, loadPolicy, type RequestAttributes } from '../src/policy/index.ts';

const KNOWN_GROUPS = [
  '',
  'admissionregistration.k8s.io',
  'apps',
  'authentication.k8s.io',
  'authorization.k8s.io',
  'autoscaling',
  'batch',
  'certificates.k8s.io',
  'extensions',
  'networking.k8s.io',
  'policy',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
];
const knownApis = KNOWN_GROUPS.map((g) => `\n      - group: "${g}"`).join('');

const POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
    resources:
      - group: ""
        resources: ["endpoints", "services", "services/status"]
  - level: None
    users: ["system:unsecured"]
    namespaces: ["kube-system"]
    verbs: ["get"]
    resources:
      - group: ""
        resources: ["configmaps"]
  - level: None
    users: ["kubelet"]
    verbs: ["get"]
    resources:
      - group: ""
        resources: ["nodes", "nodes/status"]
  - level: None
    userGroups: ["system:nodes"]
    verbs: ["get"]
    resources:
      - group: ""
        resources: ["nodes", "nodes/status"]
  - level: None
    users: ["system:kube-controller-manager", "system:kube-scheduler", "system:serviceaccount:kube-system:endpoint-controller"]
    verbs: ["get", "update"]
    namespaces: ["kube-system"]
    resources:
      - group: ""
        resources: ["endpoints"]
  - level: None
    users: ["system:kube-controller-manager", "system:kube-scheduler"]
    verbs: ["get", "update"]
    namespaces: ["kube-system"]
    resources:
      - group: "coordination.k8s.io"
        resources: ["leases"]
  - level: None
    users: ["system:apiserver"]
    verbs: ["get"]
    resources:
      - group: ""
        resources: ["namespaces", "namespaces/status", "namespaces/finalize"]
  - level: None
    users: ["cluster-autoscaler"]
    verbs: ["get", "update"]
    namespaces: ["kube-system"]
    resources:
      - group: ""
        resources: ["configmaps", "endpoints"]
  - level: None
    users: ["system:kube-controller-manager"]
    verbs: ["get", "list"]
    resources:
      - group: "metrics.k8s.io"
  - level: None
    nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version", "/swagger*"]
  - level: None
    resources:
      - group: ""
        resources: ["events"]
      - group: "events.k8s.io"
        resources: ["events"]
  - level: Request
    users: ["kubelet", "system:node-problem-detector"]
    verbs: ["update", "patch"]
    resources:
      - group: ""
        resources: ["nodes/status", "pods/status"]
    omitStages: ["RequestReceived"]
  - level: Request
    userGroups: ["system:nodes"]
    verbs: ["update", "patch"]
    resources:
      - group: ""
        resources: ["nodes/status", "pods/status"]
    omitStages: ["RequestReceived"]
  - level: Request
    users: ["system:serviceaccount:kube-system:namespace-controller"]
    verbs: ["deletecollection"]
    omitStages: ["RequestReceived"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps", "serviceaccounts/token"]
      - group: "authentication.k8s.io"
        resources: ["tokenreviews"]
    omitStages: ["RequestReceived"]
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["pods/exec", "pods/attach", "pods/portforward", "*/proxy"]
    omitStages: ["RequestReceived"]
  - level: Request
    verbs: ["get", "list", "watch"]
    resources:${knownApis}
    omitStages: ["RequestReceived"]
  - level: RequestResponse
    resources:
      - group: "rbac.authorization.k8s.io"
    omitStages: ["RequestReceived"]
  - level: RequestResponse
    resources:${knownApis}
    omitStages: ["RequestReceived"]
  - level: Metadata
    omitStages: ["RequestReceived"]
`;

const lines = readFileSync(new URL('../test/fixtures/falco/k8saudit-events.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '');
const policy = loadPolicy(POLICY, 'gce-like.yaml');
if (policy.rules.length !== 20) throw new Error(`expected 20 rules, got ${policy.rules.length}`);
const evaluator = createPolicyEvaluator(policy);

const REPLICAS = 200;
const attrs: RequestAttributes[] = [];
const raw: string[] = [];
for (let r = 0; r < REPLICAS; r++) {
  for (const l of lines) {
    // Fresh objects per replica, as a stream of events would give; same shapes.
    attrs.push(attributesFromEvent(JSON.parse(l) as AuditEvent));
    raw.push(l);
  }
}
const N = attrs.length;

let sink = 0;
function evaluateAll(): void {
  for (let i = 0; i < N; i++) sink += evaluator.evaluate(attrs[i]!).omitStages.length;
}
function parseAll(): void {
  for (let i = 0; i < N; i++) sink += (JSON.parse(raw[i]!) as { verb: string }).verb.length;
}
function attributesAndEvaluate(): void {
  for (let i = 0; i < N; i++) {
    sink += evaluator.evaluate(attributesFromEvent(JSON.parse(raw[i]!) as AuditEvent)).omitStages.length;
  }
}

/** Median ns per event over `rounds` passes, after warm-up. */
function measure(fn: () => void, rounds = 15): number {
  for (let i = 0; i < 5; i++) fn();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t0) / N);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

// Where do the events land? (Most Falco events are creates by minikube-user: they walk most of the rules.)
const byRule = new Map<number | null, number>();
for (let i = 0; i < lines.length; i++) {
  const d = evaluator.evaluate(attrs[i]!);
  byRule.set(d.rule, (byRule.get(d.rule) ?? 0) + 1);
}
const rulesWalked =
  [...byRule].reduce((s, [rule, n]) => s + n * ((rule ?? policy.rules.length - 1) + 1), 0) / lines.length;

const evalNs = measure(evaluateAll);
const parseNs = measure(parseAll);
const fullNs = measure(attributesAndEvaluate);
console.log(`events: ${lines.length} real × ${REPLICAS} = ${N}; policy: ${policy.rules.length} rules`);
console.log(
  `decisions by rule: ${JSON.stringify(Object.fromEntries([...byRule].sort((a, b) => (a[0] ?? 99) - (b[0] ?? 99))))}`,
);
console.log(`rules tested per event (mean): ${rulesWalked.toFixed(1)}`);
console.log(`policy evaluate:                          ${evalNs.toFixed(1)} ns/event`);
console.log(`baseline JSON.parse of the event:         ${parseNs.toFixed(1)} ns/event`);
console.log(`ratio evaluate / JSON.parse:              ${(evalNs / parseNs).toFixed(3)}`);
console.log(`JSON.parse + attributesFromEvent + evaluate: ${fullNs.toFixed(1)} ns/event`);
console.log(`target < 1000 ns/event: ${evalNs < 1000 ? 'met' : 'NOT met'}`);
if (sink === 0.5) console.log(sink);
