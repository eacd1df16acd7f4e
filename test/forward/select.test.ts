// Which events a destination takes: the query API's filter parameters with their meaning there, and alerts only —
// decided once an event has settled in the log, so that alerts recorded just after it is stored still count.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { alertRecords } from '../../src/alerts/record.ts';
import { openSqliteAlertStore } from '../../src/alerts/sqlite.ts';
import type { ForwardConfig } from '../../src/config/index.ts';
import { type Delivery, type Destination, Forwarder } from '../../src/forward/index.ts';
import { compileSelect, selectSettleMs } from '../../src/server/forward.ts';
import type { Store, StoredEvent } from '../../src/store/types.ts';
import { waitFor } from '../helpers/net.ts';
import { tempDir } from '../helpers/temp.ts';
import { event, sqliteStore } from './helpers.ts';

class Kept implements Destination {
  readonly got: Delivery[] = [];
  async send(batch: Delivery[]): Promise<void> {
    this.got.push(...batch);
  }
  async close(): Promise<void> {}
}

const stores: Store[] = [];
after(async () => {
  for (const s of stores) await s.close();
});

const config = (select: Record<string, string>) =>
  ({ type: 'syslog', name: 'sel', url: 'tcp://127.0.0.1:1', select }) as ForwardConfig;

test('select with query parameters: exact filters and fuzzy search, as the API means them', async () => {
  const select = compileSelect(config({ verb_filter: 'create', objectref_namespace_search: 'NS1' }), 0)!;
  const events = [
    event(Date.now(), { verb: 'create', objectRef: { resource: 'secrets', namespace: 'ns1' } }),
    event(Date.now(), { verb: 'get', objectRef: { resource: 'secrets', namespace: 'ns1' } }),
    event(Date.now(), { verb: 'create', objectRef: { resource: 'secrets', namespace: 'ns2' } }),
  ].map((e, i) => ({ ...e, id: String(i + 1) }));
  assert.deepEqual(
    (await select(events)).map((e) => e.id),
    ['1'],
  );
  assert.throws(
    () => compileSelect(config({ response_code_filter: 'ok' }), 3),
    /forward\[3\]\.select\.response_code_filter: /,
  );
  assert.throws(
    () => compileSelect(config({ alerts: 'maybe' }), 0),
    /forward\[0\]\.select\.alerts: must be true or false/,
  );
});

test('alerts only: the events that raised an alert, their alerts recorded just after they were stored', async () => {
  const store = await sqliteStore();
  stores.push(store);
  const alerts = openSqliteAlertStore(path.join(tempDir('vigil-forward-alerts-'), 'alerts.db'));
  const c = config({ alerts: 'true' });
  const dest = new Kept();
  const f = new Forwarder(store, {
    name: 'alerts',
    type: 'test',
    target: 'memory',
    format: 'kubernetes',
    destination: dest,
    select: compileSelect(c, 0, alerts),
    settleMs: 300,
    pollMs: 20,
  });
  assert.equal(selectSettleMs(c), 2000);
  f.start();
  try {
    const r = await store.append([event(), event(), event(), event()]);
    const ids = r.ids.map(String);
    // the forwarder has read them already; the pipeline records the alerts of events 2 and 4 only now
    await waitFor('the forwarder to see them', () => f.status().head > 0);
    for (const i of [1, 3]) {
      const e = (await store.get(ids[i]!)) as StoredEvent;
      await alerts.add(
        alertRecords(e, [{ rule: 'r.secret-read', priority: 'WARNING', message: 'm' }], Date.now()),
        [],
        0,
      );
    }
    await waitFor('the alerting events', () => dest.got.length >= 2);
    await waitFor('the cursor past the others', () => f.status().lagEvents === 0);
    assert.deepEqual(
      dest.got.map((d) => d.event.id),
      [ids[1], ids[3]],
    );
  } finally {
    await f.stop();
    await alerts.close();
  }
});
