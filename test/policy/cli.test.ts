// `vigil policy test` end to end through main(), on fixture files and stdin.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { vigil } from '../helpers/cli.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/policy/${name}`, import.meta.url));
const falco = fileURLToPath(new URL('../fixtures/falco/k8saudit-events.jsonl', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'vigil-policy-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const POLICY = fixture('gce-like-policy.yaml');

test('-o json: one object per event with auditID, level, omitStages and rule', async () => {
  const r = await vigil(['policy', 'test', '--policy', POLICY, '--events', fixture('events.jsonl'), '-o', 'json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  const lines = r.out.trimEnd().split('\n');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l)),
    [
      // a secret: rule 2 (Metadata); the policy omits RequestReceived everywhere.
      { auditID: 'a1', level: 'Metadata', omitStages: ['RequestReceived'], rule: 2 },
      // /healthz?verbose=1: the query string is not part of the path the policy sees.
      { auditID: 'a2', level: 'None', omitStages: ['RequestReceived'], rule: 1 },
      // kube-proxy watching endpoints.
      { auditID: 'a3', level: 'None', omitStages: ['RequestReceived'], rule: 0 },
      // alice impersonating kube-proxy: the policy sees alice; RBAC rule adds Panic.
      { auditID: 'a4', level: 'RequestResponse', omitStages: ['RequestReceived', 'Panic'], rule: 4 },
      // deployments/scale: nothing specific, the catch-all.
      { auditID: 'a5', level: 'Metadata', omitStages: ['RequestReceived'], rule: 5 },
    ],
  );
  // Keys in the documented order.
  assert.match(lines[0]!, /^\{"auditID":"a1","level":"Metadata","omitStages":\["RequestReceived"\],"rule":2\}$/);
});

test('the default output is an aligned table', async () => {
  const r = await vigil(['policy', 'test', '--policy', POLICY, '--events', fixture('events.jsonl')]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines.length, 6);
  const header = lines[0]!;
  const columns = ['AUDIT-ID', 'VERB', 'USER', 'RESOURCE/URI', 'LEVEL', 'OMIT-STAGES', 'RULE'];
  assert.deepEqual(header.split(/\s+/), columns);
  // Every column starts at the same offset on every line.
  const starts = columns.map((c) => header.indexOf(c));
  const rows = lines.slice(1).map((l) => starts.map((s, i) => l.slice(s, starts[i + 1]).trim()));
  assert.deepEqual(rows, [
    ['a1', 'get', 'alice', 'secrets default/db', 'Metadata', 'RequestReceived', '2'],
    ['a2', 'get', 'system:anonymous', '/healthz', 'None', 'RequestReceived', '1'],
    ['a3', 'watch', 'system:kube-proxy', 'endpoints', 'None', 'RequestReceived', '0'],
    [
      'a4',
      'create',
      'alice',
      'clusterrolebindings.rbac.authorization.k8s.io x',
      'RequestResponse',
      'RequestReceived,Panic',
      '4',
    ],
    ['a5', 'update', 'bob', 'deployments.apps/scale default/web', 'Metadata', 'RequestReceived', '5'],
  ]);
  for (const l of lines.slice(1)) {
    for (const s of starts.slice(1)) assert.equal(l[s - 1], ' ', `column boundary at ${s} in ${JSON.stringify(l)}`);
  }
});

test('an EventList on stdin (--events - and no --events)', async () => {
  const list = readFileSync(fixture('eventlist.json'), 'utf8');
  for (const args of [['--events', '-'], []]) {
    const r = await vigil(['policy', 'test', '--policy', POLICY, '-o', 'json', ...args], list);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      r.out
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).auditID),
      ['a1', 'a2'],
    );
  }
});

test('no rule matched: rule null in JSON, <none> in the table', async () => {
  const policy = join(tmp, 'narrow.yaml');
  writeFileSync(policy, 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Request\n  verbs: [delete]\n');
  const events = fixture('events.jsonl');
  const json = await vigil(['policy', 'test', '--policy', policy, '--events', events, '-o', 'json']);
  assert.deepEqual(JSON.parse(json.out.split('\n')[0]!), { auditID: 'a1', level: 'None', omitStages: [], rule: null });
  const table = await vigil(['policy', 'test', '--policy', policy, '--events', events]);
  assert.match(table.out.split('\n')[1]!, /^a1 +get +alice +secrets default\/db +None +<none> +<none>$/);
});

test("Falco's 51 real events all get a decision", async () => {
  const r = await vigil(['policy', 'test', '--policy', POLICY, '--events', falco, '-o', 'json']);
  assert.equal(r.code, 0, r.err);
  const decisions = r.out
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(decisions.length, 51);
  const byRule = Object.groupBy(decisions, (d: { rule: number }) => String(d.rule));
  // 9 configmap and 4 secret events (rule 2), 3 namespace creations + 1 deletion (rule 3), 11 RBAC (rule 4).
  assert.deepEqual(Object.fromEntries(Object.entries(byRule).map(([k, v]) => [k, v!.length])), {
    2: 13,
    3: 4,
    4: 11,
    5: 23,
  });
});

test('a policy with "groups" for "group": exit 2, reported as file:line:col on stderr', async () => {
  const policy = fixture('groups-typo.yaml');
  const r = await vigil(['policy', 'test', '--policy', policy, '--events', fixture('events.jsonl')]);
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  assert.equal(
    r.err,
    `${policy}:8:5: rules[0].resources[0].groups: unknown field (did you mean "group"?)\n` +
      `${policy}:15:5: rules[1].resources[0].groups: unknown field (did you mean "group"?)\n`,
  );
});

test('a bad level: exit 2 with file:line:col', async () => {
  const r = await vigil(['policy', 'test', '--policy', fixture('bad-level.yaml'), '--events', fixture('events.jsonl')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /bad-level\.yaml:4:12: rules\[0\]\.level: unsupported value "Everything"/);
});

test('bad events: exit 2 naming the file and line', async () => {
  const r = await vigil(['policy', 'test', '--policy', POLICY, '--events', fixture('bad-events.jsonl')]);
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  assert.match(r.err, /^vigil policy test: .*bad-events\.jsonl: line 2: not valid JSON/);
});

test('an object that is not an event: exit 2', async () => {
  const r = await vigil(['policy', 'test', '--policy', POLICY], '{"kind": 0}\n');
  assert.equal(r.code, 2);
  assert.match(r.err, /<stdin>: line 1: kind: expected a string/);
});

test('usage errors: exit 2', async () => {
  for (const [args, message] of [
    [[], /--policy is required/],
    [['--policy', POLICY, '-o', 'yaml'], /-o must be table or json/],
    [['--policy', POLICY, '--colour'], /unknown option --colour/],
    [['--policy', join(tmp, 'missing.yaml')], /cannot read the policy: ENOENT/],
    [['--policy', POLICY, '--events', join(tmp, 'missing.jsonl')], /cannot read the events: ENOENT/],
  ] as const) {
    const r = await vigil(['policy', 'test', ...args]);
    assert.equal(r.code, 2, `${args}`);
    assert.match(r.err, message);
  }
});

test('the command is listed in the help', async () => {
  const r = await vigil(['--help']);
  assert.match(r.out, /vigil policy test +show the level/);
});
