// The console bugs of issue #22, each reproduced in a real browser against the collector: an invalid date, the chart
// bucket under the pointer, the chart's colours after a theme toggle, Search+Enter, stale or false counts, empty
// detail rows, and the alerts panel (paging, keeping its place).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page, Route } from 'playwright-core';
import type { AuditEvent } from '../../src/event/model.ts';
import { ensureConsoleBuilt } from '../../src/server/console.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { launch, loaded, openPage, pageErrors, total } from './browser.ts';
import { fixtureEvents } from './fixtures.ts';
import { startVigil, type VigilServer } from './server.ts';
import { startStandIn } from './standin.ts';

const NOW = Date.now();
const EVENTS = fixtureEvents(NOW);
// One event with no cluster, workspace or namespace (a cluster-scoped read by a node).
const BARE: AuditEvent = {
  ...fixtureEvents(NOW, 1)[0],
  auditID: 'bare-0000',
  user: { username: 'system:node:worker-1', groups: ['system:nodes'] },
  objectRef: { resource: 'nodes', name: 'worker-1', apiVersion: 'v1' },
  requestURI: '/api/v1/nodes/worker-1',
  verb: 'get',
  workspace: undefined,
  cluster: undefined,
};
let server: VigilServer;
let browser: Browser;

before(async () => {
  await ensureConsoleBuilt({ log: () => {} });
  server = await startVigil([...EVENTS, BARE]);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function open(search = '', opts: Parameters<typeof openPage>[1] = {}, base = server.url): Promise<Page> {
  const page = await openPage(browser, opts);
  await page.goto(`${base}/${search}`);
  return page;
}

/** Holds the matching API requests until `release()`; `arrived` resolves when the first is held. */
async function hold(page: Page, pattern: RegExp) {
  const held: Route[] = [];
  let arrived!: () => void;
  const first = new Promise<void>((r) => {
    arrived = r;
  });
  let gate = true;
  await page.route(pattern, (route) => {
    if (!gate) return route.continue();
    held.push(route);
    arrived();
  });
  return {
    arrived: first,
    async release() {
      gate = false;
      for (const r of held.splice(0)) await r.continue();
      await page.unroute(pattern);
    },
  };
}

const LIST = /\/api\/v1\/events\?/;
const HISTOGRAM = /\/api\/v1\/events\/histogram\?/;

test('an invalid absolute date is refused with a message: no NaN in the URL, no error, the console goes on', async () => {
  const page = await open();
  await loaded(page);
  await page.getByTestId('time-range').click();
  // A five-digit year (what typing one digit too many into the year gives): the browser keeps it as the value.
  await page
    .locator('.range-custom input')
    .first()
    .evaluate((el) => {
      const input = el as unknown as { value: string; dispatchEvent(e: unknown): void };
      input.value = '20250-01-01T10:00';
      input.dispatchEvent(
        new (globalThis as unknown as { Event: new (t: string, o: object) => unknown }).Event('input', {
          bubbles: true,
        }),
      );
    });
  await page.locator('.range-custom').getByRole('button', { name: 'Apply' }).click();
  await page
    .getByRole('alert')
    .getByText(/Not a valid date/)
    .waitFor();
  assert.doesNotMatch(page.url(), /NaN/);
  assert.deepEqual(pageErrors(page), []);
  // Still usable: another range applies.
  await page.getByRole('button', { name: 'Last 24 hours' }).click();
  await page.waitForURL(/range=24h/);
  assert.equal(await total(page), EVENTS.length + 1);
  // A NaN already in a URL (a bookmark from before) falls back to the default range rather than wedging the page.
  const old = await open('?start_time=NaN&end_time=NaN');
  assert.equal(await total(old), EVENTS.length + 1);
  assert.deepEqual(pageErrors(old), []);
});

test('the chart hovers and zooms into the bucket under the pointer, also over the right half of a bar', async () => {
  const page = await open();
  await loaded(page);
  const over = await page.locator('.trend-plot .u-over').boundingBox();
  assert.ok(over);
  const bucket = 15 * 60_000;
  const start = Math.floor((NOW - 12 * 3_600_000) / bucket) * bucket;
  const inBucket = (b: number) =>
    EVENTS.filter((e) => {
      const t = Date.parse(e.requestReceivedTimestamp);
      return t >= b && t < b + bucket;
    }).length;
  // A bucket whose count differs from the next one's, so a hover on the wrong bucket shows.
  let target = Math.floor((NOW - 4 * 3_600_000) / bucket) * bucket;
  while (inBucket(target) === inBucket(target + bucket) || inBucket(target) === 0) target -= bucket;
  const x = over.x + ((target + bucket * 0.8 - start) / (NOW - start)) * over.width;
  await page.mouse.move(x, over.y + over.height / 2);
  await page.locator('.trend-when', { hasNotText: 'Whole range' }).waitFor();
  const legend = async (s: string) =>
    (await page.locator(`.legend-item[data-series="${s}"]`).count())
      ? Number(await page.locator(`.legend-item[data-series="${s}"] b`).textContent())
      : 0;
  const hovered = (await legend('ok')) + (await legend('client')) + (await legend('server')) + (await legend('none'));
  assert.equal(hovered, inBucket(target));
  // A click there zooms into that bucket, not the next.
  await page.mouse.down();
  await page.mouse.up();
  await page.waitForURL(/start_time=/);
  assert.equal(Number(new URL(page.url()).searchParams.get('start_time')) * 1000, target);
  assert.deepEqual(pageErrors(page), []);
});

test("after a theme toggle the chart is drawn in the new theme's colours", async () => {
  const page = await open('', { theme: 'light' });
  await loaded(page);
  // The bars' pixels in the theme's success colour (--ok), read from the canvas.
  const okPixels = () =>
    page.evaluate(() => {
      const g = globalThis as unknown as {
        document: {
          documentElement: unknown;
          querySelector(s: string): {
            width: number;
            height: number;
            getContext(k: string): { getImageData(...a: number[]): { data: Uint8ClampedArray } };
          };
        };
        getComputedStyle(el: unknown): { getPropertyValue(n: string): string };
      };
      const hex = g.getComputedStyle(g.document.documentElement).getPropertyValue('--ok').trim();
      const [r, gr, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
      const c = g.document.querySelector('.trend-plot canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] === r && d[i + 1] === gr && d[i + 2] === b) n++;
      return { hex, n };
    });
  const light = await okPixels();
  assert.ok(light.n > 0, 'light theme: success bars drawn in --ok');
  await page.getByRole('button', { name: 'Toggle theme' }).click();
  await page.waitForFunction(
    () =>
      (globalThis as unknown as { document: { documentElement: { dataset: { theme?: string } } } }).document
        .documentElement.dataset.theme === 'dark',
  );
  const dark = await okPixels();
  assert.notEqual(dark.hex, light.hex);
  assert.ok(dark.n > 0, `dark theme: success bars drawn in ${dark.hex}`);
  assert.deepEqual(pageErrors(page), []);
});

test('Search + Enter sends the search once, and a filter added right after is kept', async () => {
  const page = await openPage(browser);
  await page.clock.install();
  await page.goto(`${server.url}/`);
  await loaded(page);
  const lists: string[] = [];
  page.on('request', (r) => {
    if (LIST.test(r.url())) lists.push(r.url());
  });
  const before = await page.evaluate(() => (globalThis as unknown as { history: { length: number } }).history.length);
  // The debounce timer cannot fire while the clock is paused: Enter and the new filter happen "at once".
  await page.clock.pauseAt(Date.now() + 60_000);
  const search = page.getByRole('searchbox', { name: 'Search events' });
  await search.fill('alice');
  await search.press('Enter');
  await page.getByTestId('add-filter').click();
  await page.getByLabel('Field', { exact: true }).selectOption('verb');
  await page.getByLabel('Value', { exact: true }).fill('get');
  await page.getByRole('button', { name: 'Add filter' }).click();
  await page.clock.runFor(2000);
  await page.clock.resume();
  await page.waitForURL(/verb_filter=get/);
  await loaded(page);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('q'), 'alice');
  assert.equal(url.searchParams.get('verb_filter'), 'get');
  const now = await page.evaluate(() => (globalThis as unknown as { history: { length: number } }).history.length);
  assert.equal(now - before, 2, 'one history entry for the search, one for the filter');
  assert.ok(
    lists.every((u) => new URL(u).searchParams.get('q') === 'alice'),
    `every list request after Enter has the search: ${lists.join(' ')}`,
  );
  assert.ok(lists.length <= 2, `at most one list request per view, got ${lists.length}`);
  assert.deepEqual(pageErrors(page), []);
});

test('counts are never stale or false: loading shows no number, an unreachable server shows no zero', async () => {
  const page = await open();
  assert.equal(await total(page), EVENTS.length + 1);
  // A new range while its answer is held: the header shows no old number next to the new range's label.
  const list = await hold(page, LIST);
  const hist = await hold(page, HISTOGRAM);
  await page.getByTestId('time-range').click();
  await page.getByRole('button', { name: 'Last hour' }).click();
  await list.arrived;
  await hist.arrived;
  assert.equal(await page.getByTestId('total').textContent(), '…');
  assert.equal(await page.locator('.legend-item[data-series="ok"] b').textContent(), '…');
  await list.release();
  await hist.release();
  await loaded(page);
  const lastHour = EVENTS.filter((e) => Date.parse(e.requestReceivedTimestamp) >= NOW - 3_600_000).length;
  assert.equal(await total(page), lastHour);

  // The server unreachable: an error, not "0 events".
  const down = await openPage(browser);
  await down.route(/\/api\/v1\/events(\/histogram)?\?/, (r) => r.abort('connectionrefused'));
  await down.goto(`${server.url}/`);
  await down.getByText('Could not load events.').waitFor();
  assert.equal(await down.getByTestId('total').textContent(), '—');
  assert.notEqual(await down.locator('.legend-item[data-series="ok"] b').textContent(), '0');
  // The server back: once live tail connects, the list loads again instead of staying in its error state.
  await down.unroute(/\/api\/v1\/events(\/histogram)?\?/);
  await down.getByTestId('live').click();
  await down.getByTestId('live').getByText('Live', { exact: true }).waitFor();
  await down.locator('.vlist .row').first().waitFor();
  assert.equal(await total(down), EVENTS.length + 1);
  assert.deepEqual([...pageErrors(page), ...pageErrors(down)], []);
});

test('the detail shows no empty Cluster, Workspace or Project rows', async () => {
  const page = await open('?user_filter=system:node:worker-1');
  assert.equal(await total(page), 1);
  await page.locator('.vlist .row').first().click();
  const detail = page.getByTestId('detail');
  await detail.getByText('worker-1').first().waitFor();
  const labels = await detail.locator('dt').allTextContents();
  for (const absent of ['Cluster', 'Workspace', 'Project']) assert.ok(!labels.includes(absent), `no ${absent} row`);
  assert.ok(labels.includes('User') && labels.includes('Resource'));
  assert.deepEqual(pageErrors(page), []);
});

test('the alerts panel says how many there are, pages with "Load more", and "Open event" keeps its place', async (t) => {
  const alerting = await startStandIn(EVENTS);
  t.after(() => alerting.close());
  const stored = alerting.stored as StoredEvent[];
  for (let i = 0; i < 60; i++) {
    const e = stored[i];
    alerting.alerts.push({
      id: `a${i}`,
      createdAt: Date.parse(e.requestReceivedTimestamp) + 50,
      rule: `Rule${i}`,
      priority: 'WARNING',
      message: `alert number ${i}`,
      eventId: e.id,
      auditID: e.auditID,
    });
  }
  const page = await open('', {}, alerting.url);
  await loaded(page);
  await page.getByRole('button', { name: 'Alerts' }).click();
  const panel = page.getByTestId('alerts');
  await panel.getByText('Rule0', { exact: true }).waitFor();
  assert.equal(await panel.getByTestId('alerts-count').textContent(), 'Showing 50 of 60');
  await panel.getByRole('button', { name: /Load 10 more/ }).click();
  await panel.getByText('Rule59', { exact: true }).waitFor();
  assert.equal(await panel.locator('.alert-list li').count(), 60);
  // Open the 55th alert's event, then go back: the same 60 alerts, scrolled where they were.
  const item = panel.locator('.alert-list li').nth(55);
  await item.scrollIntoViewIfNeeded();
  const scrolled = await panel
    .locator('.detail-body')
    .evaluate((el) => (el as unknown as { scrollTop: number }).scrollTop);
  assert.ok(scrolled > 0);
  await item.getByRole('button', { name: 'Open event' }).click();
  const detail = page.getByTestId('detail');
  await detail.getByText(stored[55].auditID).first().waitFor();
  await detail.getByRole('button', { name: 'Back to alerts' }).click();
  await panel.getByText('Rule55', { exact: true }).waitFor();
  assert.equal(await panel.locator('.alert-list li').count(), 60);
  assert.equal(
    await panel.locator('.detail-body').evaluate((el) => (el as unknown as { scrollTop: number }).scrollTop),
    scrolled,
  );
  assert.deepEqual(pageErrors(page), []);
});

test('the alerts panel says so when the server has alerting turned off, rather than "no alerts"', async (t) => {
  const off = await startVigil(EVENTS.slice(0, 10), undefined, { rules: { enabled: false } });
  t.after(() => off.close());
  const page = await open('', {}, off.url);
  await loaded(page);
  await page.getByRole('button', { name: 'Alerts' }).click();
  const panel = page.getByTestId('alerts');
  await panel.getByText('Alerting is turned off on this server.').waitFor();
  assert.equal(await panel.getByText('No alerts in this time range.').count(), 0);
  assert.deepEqual(pageErrors(page), []);
});
