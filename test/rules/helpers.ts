// Shared fixtures for the rule engine tests: a realistic canonical event and a way to compile one condition.
import type { AuditEvent } from '../../src/event/model.ts';
import { buildRuleSet, type CompiledRule, RuleLoadError, RuleRuntimeError } from '../../src/rules/index.ts';

export function podCreate(over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    level: 'RequestResponse',
    auditID: 'a1',
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/demo/pods',
    verb: 'create',
    user: { username: 'alice', groups: ['system:authenticated', 'platform-admins'] },
    sourceIPs: ['10.0.0.1'],
    userAgent: 'kubectl/v1.30.0',
    objectRef: { resource: 'pods', namespace: 'demo', name: 'nginx-1', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 201 },
    requestObject: {
      kind: 'Pod',
      metadata: {
        name: 'nginx-1',
        labels: { app: 'web', 'tier.kind': 'front' },
        annotations: { note: 'a"b' },
        creationTimestamp: null,
      },
      spec: {
        hostNetwork: true,
        strFlag: 'T',
        replicas: 3,
        ratio: 0.5,
        big: 1234567,
        containers: [
          { name: 'a', image: 'nginx:1.25' },
          { name: 'b', image: 'busybox', ports: [{ containerPort: 80, hostPort: 8080 }] },
        ],
      },
    },
    requestReceivedTimestamp: '2020-06-12T09:23:28.359896Z',
    stageTimestamp: '2020-06-12T09:23:28.459896Z',
    workspace: 'ws1',
    source: 'kubesphere',
    ...over,
  };
}

/** The items every condition in the tables may reference, in a Rule resource named `test`, plus one in `other`. */
export const ITEMS = `
    - {name: action, type: list, list: [create, delete]}
    - {name: quoted, type: list, list: ['a"b', 'x\\y']}
    - {name: pod, type: macro, macro: 'ObjectRef.Resource="pods"'}
    - {name: create, type: macro, macro: 'Verb = "create"'}
    - {name: svcOrPod, type: macro, macro: 'ObjectRef.Resource = "services" or ObjectRef.Resource = "pods"'}
    - {name: podCreate, type: macro, macro: '\${pod} and \${create}'}
    - {name: ns, type: alias, alias: ObjectRef.Namespace}
    - {name: hn, type: alias, alias: RequestObject.spec.hostNetwork}
`;

export function ruleYaml(condition: string, items = ITEMS, extra = ''): string {
  return `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata: {name: test, labels: {type: alerting}}
spec:
  rules:${items}
    - name: r
      type: rule
      enable: true
      priority: WARNING
      condition: ${JSON.stringify(condition)}
${extra}---
apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata: {name: other, labels: {type: archiving}}
spec:
  rules:
    - {name: isDemo, type: macro, macro: 'ObjectRef.Namespace = "demo"'}
`;
}

export function compileRule(condition: string, items = ITEMS): CompiledRule {
  const rs = buildRuleSet([{ file: 'test.yaml', text: ruleYaml(condition, items) }]);
  return rs.rules.find((r) => r.name === 'test.r')!;
}

/** true / false, or 'error' for a runtime error. */
export function evaluate(condition: string, e: AuditEvent = podCreate()): boolean | 'error' {
  const r = compileRule(condition);
  try {
    return r.test(e);
  } catch (err) {
    if (err instanceof RuleRuntimeError) return 'error';
    throw err;
  }
}

/** The load error for a condition: its 1-based column in the condition and its message. */
export function rejection(condition: string, items = ITEMS): { column: number; message: string } {
  try {
    compileRule(condition, items);
  } catch (err) {
    if (err instanceof RuleLoadError) {
      const e = err.errors[0];
      return { column: e.textColumn ?? 0, message: e.message };
    }
    throw err;
  }
  throw new Error(`accepted: ${condition}`);
}
