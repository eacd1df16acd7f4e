// Live tail for reading (#22 §8): while the reader is scrolled down or pointing at the list, new events wait behind
// an "N new events" pill and nothing moves; the pill puts them in at the top, marked; after a reconnect the stream
// asks to resume from the last event id seen (Last-Event-ID and since_id).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { ensureConsoleBuilt } from '../../src/server/console.ts';
import { launch, loaded, openPage, pageErrors } from './browser.ts';
import { fixtureEvents } from './fixtures.ts';
import { startVigil, type VigilServer } from './server.ts';

const NOW = Date.now();
const EVENTS = fixtureEvents(NOW);
let server: VigilServer;
let browser: Browser;

before(async () => {
  await ensureConsoleBuilt({ log: () => {} });
  server = await startVigil(EVENTS);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('a reader scrolled down keeps their place: new events wait behind a pill, then come in marked', async () => {
  const page = await openPage(browser);
  await page.goto(`${server.url}/`);
  await loaded(page);
  await page.getByTestId('live').click();
  await page.getByTestId('live').getByText('Live', { exact: true }).waitFor();
  const list = page.locator('.vlist');
  await list.evaluate((el) => {
    (el as unknown as { scrollTop: number }).scrollTop = 600;
  });
  await page.waitForFunction(() => {
    const g = globalThis as unknown as { document: { querySelector(s: string): { scrollTop: number } } };
    return g.document.querySelector('.vlist').scrollTop === 600;
  });
  const firstBefore = await page.locator('.vlist .row[data-index="20"] .c-name').textContent();
  const fresh = fixtureEvents(Date.now() + 60_000, 2).map((e, i) => ({ ...e, auditID: `live-read-${i}` }));
  await server.ingest(fresh);
  await page.getByTestId('new-events').getByText('2 new events').waitFor();
  // Nothing moved under the reader.
  assert.equal(await list.evaluate((el) => (el as unknown as { scrollTop: number }).scrollTop), 600);
  assert.equal(await page.locator('.vlist .row[data-index="20"] .c-name').textContent(), firstBefore);
  assert.equal(await page.locator('.vlist .row.fresh').count(), 0);
  await page.getByTestId('new-events').click();
  await page.locator('.vlist .row.fresh').nth(1).waitFor();
  assert.equal(await list.evaluate((el) => (el as unknown as { scrollTop: number }).scrollTop), 0);
  assert.match((await page.locator('.vlist .row[data-index="0"]').getAttribute('class')) ?? '', /\bfresh\b/);
  assert.equal(await page.getByTestId('new-events').count(), 0);
  assert.deepEqual(pageErrors(page), []);
});

test('after a reconnect the stream resumes from the last event id seen', async () => {
  const page = await openPage(browser);
  const asked: (string | undefined)[] = [];
  let calls = 0;
  let reconnected!: () => void;
  const second = new Promise<void>((r) => {
    reconnected = r;
  });
  // The stream answered here: one event with an id, then the connection ends (a server restart, a proxy timeout).
  await page.route(/\/api\/v1\/events\/stream\?/, async (route) => {
    calls++;
    asked.push((await route.request().allHeaders())['last-event-id']);
    if (calls === 2) reconnected();
    const e = { ...fixtureEvents(Date.now(), 1)[0], id: `s${calls}`, auditID: `resume-${calls}` };
    await route.fulfill({
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
      body: calls === 1 ? `id: 41\ndata: ${JSON.stringify(e)}\n\n` : ': keep-alive\n\n',
    });
  });
  await page.goto(`${server.url}/`);
  await loaded(page);
  await page.getByTestId('live').click();
  const resumed = page.waitForRequest((r) => r.url().includes('/events/stream') && r.url().includes('since_id=41'));
  await second;
  await resumed;
  assert.equal(asked[0], undefined);
  assert.equal(asked[1], '41');
  assert.deepEqual(pageErrors(page), []);
});
