// Time you can trust (#22 §7): one zone for every time shown, labelled, switchable between local time and UTC;
// seconds in the absolute picker; zoom out and shift; custom relative ranges.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../../src/server/console.ts';
import { column, launch, loaded, total } from './browser.ts';
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

/** A page in India's zone (UTC+05:30, no daylight saving), so local time and UTC differ. */
async function open(search = ''): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, timezoneId: 'Asia/Kolkata' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`${server.url}/${search}`);
  return page;
}

const hms = (ms: number) => new Date(ms).toISOString().slice(11, 23);

test('times are local and labelled; the UTC switch changes the list, the detail and the picker together', async () => {
  const page = await open('?range=24h');
  await loaded(page);
  const newest = Date.parse(EVENTS[0].requestReceivedTimestamp);
  const IST = 5.5 * 3_600_000;
  assert.equal((await column(page, 'c-time'))[0].slice(-12), hms(newest + IST));
  assert.match((await page.locator('.thead').textContent()) ?? '', /Time local/);
  await page.getByTestId('tz').click();
  await page.getByTestId('tz').getByText('UTC').waitFor();
  assert.equal((await column(page, 'c-time'))[0].slice(-12), hms(newest));
  assert.match((await page.locator('.thead').textContent()) ?? '', /Time UTC/);
  await page.locator('.vlist .row').first().click();
  const received = page.getByTestId('detail').locator('dt:text-is("Received") + dd');
  assert.match((await received.textContent()) ?? '', new RegExp(`${hms(newest)}.*UTC`));
  // The picker reads and writes UTC now, with seconds.
  await page.getByTestId('time-range').click();
  await page.getByText('Times in UTC').waitFor();
  const from = page.locator('.range-custom input').first();
  assert.match(await from.inputValue(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  assert.equal(await from.getAttribute('step'), '1');
  await from.fill('2026-01-02T03:04:05');
  await page.locator('.range-custom input').nth(1).fill('2026-01-02T04:04:05');
  await page.locator('.range-custom').getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/start_time=/);
  assert.equal(new URL(page.url()).searchParams.get('start_time'), String(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000));
  // The choice is kept by this browser; back to local time.
  await page.reload();
  await page.getByTestId('tz').getByText('UTC').waitFor();
  await page.getByTestId('tz').click();
  await page.getByTestId('tz').getByText('Local time').waitFor();
});

test('zoom out doubles the range, the arrows shift it by half, a custom relative range applies', async () => {
  const page = await open('?range=6h');
  await loaded(page);
  await page.getByRole('button', { name: 'Zoom out' }).click();
  await page.waitForURL(/start_time=/);
  let u = new URL(page.url());
  let span = Number(u.searchParams.get('end_time')) - Number(u.searchParams.get('start_time'));
  assert.ok(Math.abs(span - 12 * 3600) <= 2, `twelve hours, got ${span / 3600} h`);
  const end = Number(u.searchParams.get('end_time'));
  await page.getByRole('button', { name: 'Earlier' }).click();
  await page.waitForURL((x) => Number(x.searchParams.get('end_time')) < end);
  u = new URL(page.url());
  assert.ok(Math.abs(Number(u.searchParams.get('end_time')) - (end - 6 * 3600)) <= 2);
  span = Number(u.searchParams.get('end_time')) - Number(u.searchParams.get('start_time'));
  assert.ok(Math.abs(span - 12 * 3600) <= 2);

  await page.getByTestId('time-range').click();
  await page.getByLabel('Custom relative range').fill('90m');
  await page.locator('.range-relative').getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/range=90m/);
  const want = EVENTS.filter((e) => Date.parse(e.requestReceivedTimestamp) >= NOW - 90 * 60_000).length;
  assert.equal(await total(page), want);
  assert.match((await page.locator('.card-head h2').textContent()) ?? '', /last 90m/);
});
