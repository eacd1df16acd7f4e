// What the agent does with the lines themselves: a last line without its newline waits for it; a line longer than
// --max-line-bytes (even one still being written) is reported and skipped; a line that is not an audit event is
// reported and skipped; legacy lines of every kube-apiserver version are read (a pre-1.7 response line gets its
// request line's data, even in another batch); --cluster attributes the events.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../helpers/net.ts';
import { tempDir } from '../helpers/temp.ts';
import { Agent, agentArgs, Collector, events, jsonLines, waitFor } from './helpers.ts';

const dir = tempDir('vigil-ship-lines-');
const json = path.join(dir, 'audit', 'audit.log');
const other = path.join(dir, 'audit2', 'audit.log');
const legacy = path.join(dir, 'legacy', 'audit.log');
let collector: Collector;
let agent: Agent;
const has = async (id: string) => (await collector.events(`audit_id_filter=${id}`)).length > 0;

before(async () => {
  collector = new Collector(path.join(dir, 'collector'), await freePort());
  await collector.start();
  for (const f of [json, other, legacy]) mkdirSync(path.dirname(f));
  agent = new Agent(
    agentArgs(
      dir,
      collector,
      [json, other, legacy],
      ['--max-line-bytes', '4096', '--batch-size', '1', '--cluster', 'prod-eu'],
    ),
    await freePort(),
  );
  await agent.ready();
});
after(async () => {
  await agent?.stop();
  await collector?.stop();
});

test('a partial last line waits for its newline', async () => {
  const [a, b, c] = events('partial', 0, 3);
  const third = jsonLines([c!]);
  appendFileSync(json, jsonLines([a!, b!]) + third.slice(0, 100));
  await waitFor('the two whole lines stored and the partial one seen', async () => {
    return (await has('partial-00001')) && (await agent.status()).lagBytes === 100;
  });
  // The agent goes on with other files meanwhile: once their line is stored, the partial one still is not.
  appendFileSync(other, jsonLines(events('other', 0, 1)));
  await waitFor('the other file shipped', () => has('other-00000'));
  assert.equal(await has('partial-00002'), false);
  appendFileSync(json, third.slice(100));
  await waitFor('the completed line stored', () => has('partial-00002'));
});

test('a line over --max-line-bytes, even one written in pieces, is skipped and reported; the next one is shipped', async () => {
  const [big, next] = events('long', 0, 2);
  big!.annotations = { filler: 'x'.repeat(10_000) };
  const line = jsonLines([big!]);
  appendFileSync(json, line.slice(0, 6000));
  await waitFor('the agent to see the start of the long line', async () => (await agent.status()).lagBytes >= 6000);
  appendFileSync(json, line.slice(6000) + jsonLines([next!]));
  await waitFor('the line after it stored', () => has('long-00001'));
  assert.equal(await has('long-00000'), false);
  assert.equal(await agent.metric('vigil_ship_lines_skipped_total{reason="too_long"}'), 1);
  assert.match(agent.log, /line longer than --max-line-bytes: skipped.*"at":"audit.log:4".*"bytes":10\d\d\d/);
});

test('a line that is not an audit event is skipped and reported with file:line', async () => {
  appendFileSync(json, `this is not an audit event\n${jsonLines(events('after-bad', 0, 1))}`);
  await waitFor('the line after it stored', () => has('after-bad-00000'));
  assert.equal(await agent.metric('vigil_ship_lines_skipped_total{reason="invalid"}'), 1);
  assert.match(agent.log, /not an audit event: line skipped.*"at":"audit.log:6"/);
});

test('legacy lines (pre-1.7 pairs too, one line a batch) are shipped, and every event carries --cluster', async () => {
  appendFileSync(legacy, readFileSync(new URL('../fixtures/k8s-legacy.log', import.meta.url)));
  await waitFor(
    'the 4 legacy events stored',
    async () =>
      (
        await collector.events(
          'cluster_filter=prod-eu&audit_id_filter=c939d2a7-1c37-4ef1-b2f7-4ba9b1e43b53,591e9fde-6a98-46f6-b7bc-ec8ef575696d',
        )
      ).length === 4,
  );
  const [response] = await collector.events(
    'audit_id_filter=c939d2a7-1c37-4ef1-b2f7-4ba9b1e43b53&stage_filter=ResponseComplete',
  );
  // The response-only line carries only id and code: the rest comes from its request line, shipped in an earlier batch.
  assert.equal(response!.user.username, 'admin');
  assert.equal(response!.verb, 'get');
  assert.equal(response!.responseStatus?.code, 200);
  const all = await collector.auditIDs();
  assert.equal((await collector.events('cluster_filter=prod-eu')).length, all.length, 'every event has the cluster');
});
