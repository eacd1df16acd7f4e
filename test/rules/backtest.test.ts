// `vigil rules backtest` over a real SQLite store filled through store.append with the 51 real Kubernetes audit
// events (copied 25 times with fresh audit IDs over the last hours, so the walk crosses several 1000-event pages),
// plus older events that --since must leave out.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type AuditEvent, decodeEvents } from '../../src/event/index.ts';
import { DEFAULT_RULES_FILE } from '../../src/rules/index.ts';
import { openStore } from '../../src/store/index.ts';
import { vigil } from '../helpers/cli.ts';

const falcoFile = new URL('../fixtures/falco/k8saudit-events.jsonl', import.meta.url).pathname;
const falco = decodeEvents(readFileSync(falcoFile, 'utf8'));
const COPIES = 25;
const OLD = 3;
const dir = mkdtempSync(join(tmpdir(), 'vigil-backtest-'));
const data = join(dir, 'data');
mkdirSync(data);
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

/** The event received `agoMs` before now, its stages keeping their original spacing. */
function at(e: AuditEvent, agoMs: number, auditID: string): AuditEvent {
  const received = Date.parse(e.requestReceivedTimestamp);
  const shift = Date.now() - agoMs - received;
  const move = (t: string) => new Date(Date.parse(t) + shift).toISOString();
  return {
    ...e,
    auditID,
    requestReceivedTimestamp: move(e.requestReceivedTimestamp),
    stageTimestamp: move(e.stageTimestamp),
  };
}

before(async () => {
  const store = await openStore({ type: 'sqlite', path: join(data, 'vigil.db') });
  try {
    const recent: AuditEvent[] = [];
    for (let c = 0; c < COPIES; c++)
      falco.forEach((e, i) => {
        recent.push(at(e, (COPIES * falco.length - (c * falco.length + i)) * 1000, `${e.auditID}-${c}-${i}`));
      });
    assert.equal((await store.append(recent)).inserted, COPIES * falco.length);
    // Ten days old: outside the default --since 7d. Deletes, so a delete rule would see them if they were walked.
    const old = falco.filter((e) => e.verb === 'delete').slice(0, OLD);
    const res = await store.append(old.map((e, i) => at(e, 10 * 86_400_000, `old-${i}`)));
    assert.equal(res.inserted, OLD);
  } finally {
    await store.close();
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** What `rules test` decides per event: the independent per-event path the backtest totals must agree with. */
async function perEvent(args: string[]) {
  const t = await vigil(['rules', 'test', '--events', falcoFile, '-o', 'json', ...args]);
  assert.equal(t.code, 0);
  const lines = t.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { archived: boolean; matched: string[]; alerted: string[] });
  const alerts: Record<string, number> = {};
  const matched: Record<string, number> = {};
  for (const l of lines) {
    for (const r of l.alerted) alerts[r] = (alerts[r] ?? 0) + 1;
    for (const r of l.matched) matched[r] = (matched[r] ?? 0) + 1;
  }
  return { archived: lines.filter((l) => l.archived).length, alerts, matched };
}

test('backtest -o json: examined, archived, ignored, alerts per rule with samples, the history note', async () => {
  const t = await vigil(['rules', 'backtest', '--rules', DEFAULT_RULES_FILE, '--data', data, '-o', 'json']);
  assert.equal(t.code, 0);
  assert.equal(t.err, '');
  const r = JSON.parse(t.out);
  const n = COPIES * falco.length;
  assert.equal(r.examined, n, 'every recent event once across the pages, the 10-day-old ones left out');
  const expected = await perEvent([]);
  assert.equal(r.archived, COPIES * expected.archived);
  assert.equal(r.archived, COPIES * 50);
  assert.equal(r.ignored, COPIES * 1);
  const alertTotal = Object.values(expected.alerts).reduce((a, b) => a + b, 0);
  assert.equal(r.alerts, COPIES * alertTotal);
  const byRule = Object.fromEntries(r.rules.map((o: { rule: string }) => [o.rule, o]));
  assert.deepEqual(Object.keys(byRule).sort(), Object.keys(expected.matched).sort());
  for (const [rule, count] of Object.entries(expected.matched)) {
    assert.equal(byRule[rule].matched, COPIES * count, rule);
    assert.equal(byRule[rule].alerts, COPIES * (expected.alerts[rule] ?? 0), rule);
    assert.ok(byRule[rule].samples.length <= 3 && byRule[rule].samples.length > 0, rule);
  }
  assert.deepEqual(byRule['alerting-rule.AttachOrExecPod'].samples.slice(0, 2), [
    'minikube-user attach Pod nginx-deployment-7998647bdf-phvq7 in Namespace default.',
    'minikube-user exec Pod nginx-deployment-7998647bdf-phvq7 in Namespace default.',
  ]);
  assert.equal(byRule['alerting-rule.AttachOrExecPod'].samples.length, 3);
  assert.match(r.note, /lower bound/);
  assert.ok(Date.parse(r.since) < Date.now() - 6 * 86_400_000);
});

test('backtest with new rules and --since: a rule of our own, the older events come in with a longer window', async () => {
  const rules = write(
    'deletes.yaml',
    `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata:
  name: deletes
  labels: {type: alerting}
spec:
  rules:
    - name: Delete
      type: rule
      condition: Verb = "delete"
      enable: true
      priority: WARNING
      output: \${User.Username} deleted \${ObjectRef.Resource} \${ObjectRef.Name}
`,
  );
  // A Webhook that alerts with resources labelled type=alerting only: every other event is ignored.
  const webhook = write(
    'webhook.yaml',
    `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Webhook
metadata: {name: w}
spec:
  alertingRuleSelector: {type: alerting}
  archivingRuleSelector: {type: archiving}
`,
  );
  const deletes = falco.filter((e) => e.verb === 'delete').length;
  const run = async (since: string) => {
    const args = ['rules', 'backtest', '--rules', rules, '--webhook', webhook, '--data', data, '--since', since];
    const t = await vigil([...args, '-o', 'json']);
    assert.equal(t.code, 0, t.err);
    return JSON.parse(t.out);
  };
  const week = await run('7d');
  assert.equal(week.archived, COPIES * deletes);
  assert.equal(week.ignored, COPIES * (falco.length - deletes));
  assert.deepEqual(
    week.rules.map((o: { rule: string; matched: number; alerts: number }) => [o.rule, o.matched, o.alerts]),
    [['deletes.Delete', COPIES * deletes, COPIES * deletes]],
  );
  for (const s of week.rules[0].samples) assert.match(s, /^\S+ deleted \S+ \S+$/);
  const twoWeeks = await run('2w');
  assert.equal(twoWeeks.examined, COPIES * falco.length + OLD);
  assert.equal(twoWeeks.rules[0].alerts, COPIES * deletes + OLD);
  // The oldest events come first: the samples are now the old deletes'.
  const old = falco.filter((e) => e.verb === 'delete').slice(0, OLD);
  assert.deepEqual(
    twoWeeks.rules[0].samples,
    old.map((e) => `${e.user.username} deleted ${e.objectRef?.resource} ${e.objectRef?.name}`),
  );
  const hour = await run('1m');
  assert.ok(hour.examined > 0 && hour.examined < COPIES * falco.length, 'a shorter window examines fewer events');
});

test('backtest prints a table by default with the lower-bound note', async () => {
  const t = await vigil(['rules', 'backtest', '--rules', DEFAULT_RULES_FILE, '--data', data]);
  assert.equal(t.code, 0);
  const out = t.out;
  assert.match(out, new RegExp(`^events examined since \\S+: ${COPIES * falco.length}$`, 'm'));
  assert.match(out, new RegExp(`^would ignore: ${COPIES} \\(.*lower bound of what was received\\)$`, 'm'));
  assert.match(out, /^RULE\s+MATCHED\s+ALERTS\s+SAMPLE MESSAGES$/m);
  assert.match(
    out,
    new RegExp(
      `^alerting-rule\\.AttachOrExecPod\\s+${COPIES * 2}\\s+${COPIES * 2}\\s+minikube-user attach Pod .* \\| minikube-user exec Pod`,
      'm',
    ),
  );
});

test('backtest reads the store from --config as serve does', async () => {
  const cfg = write('vigil.yaml', `storage:\n  path: ${join(data, 'vigil.db')}\n`);
  const t = await vigil(['rules', 'backtest', '--rules', DEFAULT_RULES_FILE, '--config', cfg, '-o', 'json']);
  assert.equal(t.code, 0);
  assert.equal(JSON.parse(t.out).examined, COPIES * falco.length);
});

test('backtest exit 2: a bad rule names file and position on stderr; bad flags; no store', async () => {
  const bad = write(
    'bad.yaml',
    `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata: {name: bad}
spec:
  rules:
    - name: broken
      type: rule
      condition: Verb = = "delete"
      enable: true
      priority: WARNING
`,
  );
  const t = await vigil(['rules', 'backtest', '--rules', bad, '--data', data]);
  assert.equal(t.code, 2);
  assert.equal(t.out, '');
  assert.match(t.err, new RegExp(`^${bad.replace(/[.]/g, '\\.')}:8:\\d+: .*broken`, 'm'));
  for (const args of [
    ['--data', data],
    ['--rules', DEFAULT_RULES_FILE, '--data', data, '--since', 'yesterday'],
    ['--rules', DEFAULT_RULES_FILE, '--data', data, '-o', 'csv'],
    ['--rules', DEFAULT_RULES_FILE, '--data', data, '--alerting-priority', 'LOUD'],
    ['--rules', DEFAULT_RULES_FILE, '--data', join(dir, 'nowhere')],
  ]) {
    const u = await vigil(['rules', 'backtest', ...args]);
    assert.equal(u.code, 2, args.join(' '));
    assert.notEqual(u.err, '', args.join(' '));
  }
});
