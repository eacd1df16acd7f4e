// `vigil rules backtest` with Falco's ruleset over a real SQLite store holding the 51 events: per rule, the matches
// and alerts `rules test` finds event by event, and the rendered outputs as samples.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeEvents } from '../../../src/event/index.ts';
import { openStore } from '../../../src/store/index.ts';
import { vigil } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/temp.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/falco/${name}`, import.meta.url));
const RULES = fixture('k8s_audit_rules.yaml');
const EVENTS = fixture('k8saudit-events.jsonl');
const data = join(tempDir('vigil-falco-backtest-'), 'data');

before(async () => {
  mkdirSync(data);
  const store = await openStore({ type: 'sqlite', path: join(data, 'vigil.db') });
  try {
    // Received over the last hour (inside --since 7d), each under its own audit ID.
    const events = decodeEvents(readFileSync(EVENTS, 'utf8')).map((e, i) => {
      const t = new Date(Date.now() - (60 - i) * 60_000).toISOString();
      return { ...e, auditID: `falco-${i}`, requestReceivedTimestamp: t, stageTimestamp: t };
    });
    assert.equal((await store.append(events)).inserted, 51);
  } finally {
    await store.close();
  }
});

test("backtest with Falco's ruleset agrees with rules test, event by event", async () => {
  const t = await vigil(['rules', 'test', '--rules', RULES, '--events', EVENTS, '-o', 'json']);
  assert.equal(t.code, 0);
  const matched: Record<string, number> = {};
  const alerts: Record<string, number> = {};
  for (const l of t.out.trim().split('\n')) {
    const d = JSON.parse(l) as { matched: string[]; alerted: string[] };
    for (const r of d.matched) matched[r] = (matched[r] ?? 0) + 1;
    for (const r of d.alerted) alerts[r] = (alerts[r] ?? 0) + 1;
  }
  const b = await vigil(['rules', 'backtest', '--rules', RULES, '--data', data, '-o', 'json']);
  assert.equal(b.code, 0, b.err);
  const r = JSON.parse(b.out);
  assert.equal(r.examined, 51);
  assert.equal(r.archived, 46);
  const byRule = Object.fromEntries(r.rules.map((o: { rule: string }) => [o.rule, o]));
  assert.deepEqual(Object.keys(byRule).sort(), Object.keys(matched).sort());
  for (const [rule, n] of Object.entries(matched)) {
    assert.equal(byRule[rule].matched, n, rule);
    assert.equal(byRule[rule].alerts, alerts[rule] ?? 0, rule);
  }
  assert.equal(byRule['Create/Modify Configmap With Private Credentials'].matched, 6);
  assert.deepEqual(byRule['Attach/Exec Pod'].samples, [
    'Attach/Exec to pod (user=minikube-user pod=nginx-deployment-7998647bdf-phvq7 resource=pods ns=default action=attach command=<NA>)',
    'Attach/Exec to pod (user=minikube-user pod=nginx-deployment-7998647bdf-phvq7 resource=pods ns=default action=exec command=bash)',
  ]);
});
