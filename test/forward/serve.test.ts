// Forwarding in the collector: `forward:` in vigil.yaml, a selection with the query API's parameters, the metrics per
// destination, `vigil forward status` and `vigil forward reset NAME --since`, and configuration mistakes named.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/index.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import { vigil } from '../helpers/cli.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { startRsyslog } from '../helpers/rsyslog.ts';
import { tempDir } from '../helpers/temp.ts';
import { event, receivedIds } from './helpers.ts';

const servers: RunningServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function collector(forward: string): Promise<RunningServer> {
  const port = await freePort();
  const config = parseConfig(`forward:\n${forward}`, 'vigil.yaml', {
    listen: `127.0.0.1:${port}`,
    data: path.join(tempDir('vigil-forward-serve-'), 'data'),
  });
  const s = await startServer(config, { logger: false });
  servers.push(s);
  return s;
}

test('a collector forwards what its selection takes, reports it in /metrics and vigil forward status, replays on reset', async () => {
  const rs = await startRsyslog();
  const s = await collector(
    `  - { name: creates, type: syslog, url: "tcp://127.0.0.1:${rs.port}", format: ocsf, select: { verb_filter: create } }\n`,
  );
  const events = Array.from({ length: 40 }, () => event());
  const res = await fetch(`${s.url}/audit/webhook/event`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: events }),
  });
  assert.equal(res.status, 200, await res.text());
  const creates = events.filter((e) => e.verb === 'create').length;
  await waitFor('the creates in rsyslog', () => rs.lines().length >= creates, 20_000);
  const lines = rs.lines();
  assert.equal(lines.length, creates);
  assert.ok(lines.every((l) => l.includes('verb="create"') && l.includes('"class_uid":6003')));

  await waitFor('the cursor at the head', async () => s.forwarding.status()[0]!.lagEvents === 0);
  const metrics = await (await fetch(`${s.url}/metrics`)).text();
  assert.match(metrics, new RegExp(`vigil_forward_delivered_total\\{destination="creates"\\} ${creates}\\n`));
  assert.match(metrics, /vigil_forward_lag_events\{destination="creates"\} 0\n/);
  assert.match(metrics, /vigil_forward_lag_seconds\{destination="creates"\} 0\n/);

  const status = await vigil(['forward', 'status', '--server', s.url]);
  assert.equal(status.code, 0, status.err);
  assert.match(status.out, /^NAME\s+TYPE\s+FORMAT\s+POSITION\s+LAG/);
  assert.match(status.out, new RegExp(`creates\\s+syslog\\s+ocsf\\s+\\d+\\s+0\\s+0\\.0\\s+${creates}\\s+0\\s+0\\s+-`));
  const json = JSON.parse((await vigil(['forward', 'status', '-o', 'json', '--server', s.url])).out);
  assert.equal(json.destinations[0].delivered, creates);

  // what the destination got is what `vigil query -o ocsf` prints
  const printed = await vigil(['query', '--verb', 'create', '--all', '-o', 'ocsf', '--server', s.url]);
  assert.equal(printed.code, 0, printed.err);
  const ocsf = printed.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(ocsf.length, creates);
  const sent = lines.map((l) => JSON.parse(l.split('\uFEFF')[1]!));
  assert.deepEqual(new Set(ocsf.map((o) => JSON.stringify(o))), new Set(sent.map((o) => JSON.stringify(o))));

  // replay: every create received in the last hour arrives again
  const reset = await vigil(['forward', 'reset', 'creates', '--since', '1h', '--server', s.url]);
  assert.equal(reset.code, 0, reset.err);
  assert.match(reset.out, /^creates: replaying from \S+ \(log position \d+\)\n$/);
  await waitFor('the replay in rsyslog', () => rs.lines().length >= 2 * creates, 20_000);
  assert.deepEqual(receivedIds(rs.lines()).slice(creates), receivedIds(lines));

  const unknown = await vigil(['forward', 'reset', 'nope', '--since', '1h', '--server', s.url]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /404: no forwarding destination named "nope"/);
  const bad = await vigil(['forward', 'reset', 'creates', '--since', 'yesterday', '--server', s.url]);
  assert.match(bad.err, /400: since must be Unix seconds or an RFC 3339 time/);
});

test('configuration mistakes in forward: are named with their key', async () => {
  const parse = (text: string) => parseConfig(text, 'vigil.yaml');
  assert.throws(
    () => parse('forward:\n  - { name: a, type: syslog, url: "http://x:1" }\n'),
    (err: Error) =>
      err instanceof ConfigError &&
      /forward\[0\]\.url: must be tcp:\/\/, tls:\/\/ or udp:\/\/host:port/.test(err.message),
  );
  assert.throws(
    () => parse('forward:\n  - { name: a, type: kafka, url: "x" }\n'),
    /forward\[0\]\.type: must be one of syslog, nats, http, not "kafka"/,
  );
  assert.throws(
    () =>
      parse(
        'forward:\n  - { name: a, type: syslog, url: "tcp://x:1" }\n  - { name: a, type: syslog, url: "tcp://y:1" }\n',
      ),
    /two destinations are named "a"/,
  );
  await assert.rejects(
    collector('  - { name: a, type: syslog, url: "tcp://127.0.0.1:9", select: { verb: create } }\n'),
    /forward\[0\]\.select\.verb: not a filter parameter of the query API/,
  );
});

test("the issue's spelling of an HTTP request shape, format: splunk-hec, is read as api: splunk-hec", () => {
  const parse = (text: string) => parseConfig(text, 'vigil.yaml');
  const [splunk, es, ocsf] = parse(
    'forward:\n' +
      '  - { name: splunk, type: http, url: "https://splunk:8088/services/collector/event", format: splunk-hec }\n' +
      '  - { name: es, type: http, url: "https://es:9200/_bulk", format: elasticsearch-bulk }\n' +
      '  - { name: hook, type: http, url: "https://hooks.example/vigil", format: ocsf }\n',
  ).forward;
  assert.deepEqual(
    [splunk, es, ocsf].map((d) => d!.type === 'http' && [d.api, d.format]),
    [
      ['splunk-hec', undefined],
      ['elasticsearch-bulk', undefined],
      [undefined, 'ocsf'],
    ],
  );
  assert.throws(
    () => parse('forward:\n  - { name: a, type: http, url: "https://x", format: splunk-hec, api: webhook }\n'),
    /forward: a: format "splunk-hec" is a request shape, and api says "webhook"/,
  );
  assert.throws(
    () => parse('forward:\n  - { name: a, type: syslog, url: "tcp://x:1", format: splunk-hec }\n'),
    /forward\[0\]\.format: must be one of kubernetes, cadf, ocsf/,
  );
});
