// The console in a real browser against the query API: the trend counts, every filter, fuzzy search, the detail
// view, live tail, export, and tenant isolation through a signed-in token.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { OUTPUT_FORMAT_NAMES, OUTPUT_FORMATS } from '../../src/event/encode.ts';
import type { AuditEvent } from '../../src/event/model.ts';
import { ensureConsoleBuilt } from '../../src/server/console.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { column, launch, loaded, openPage, pageErrors, screenshot, total } from './browser.ts';
import { fixtureEvents } from './fixtures.ts';
import { startVigil, type VigilServer } from './server.ts';
import { startStandIn } from './standin.ts';

const NOW = Date.now();
const EVENTS = fixtureEvents(NOW);
let server: VigilServer;
let browser: Browser;
const pages: Page[] = [];

before(async () => {
  await ensureConsoleBuilt({ log: () => {} });
  server = await startVigil(EVENTS);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function open(search = '', opts: Parameters<typeof openPage>[1] = {}, base = server.url): Promise<Page> {
  const page = await openPage(browser, opts);
  pages.push(page);
  await page.goto(`${base}/${search}`);
  return page;
}

function codeOf(e: AuditEvent): number {
  return e.responseStatus?.code ?? 0;
}

test('the trend chart shows the stored counts per outcome, per bucket, and dragging narrows the range', async () => {
  const page = await open();
  assert.equal(await total(page), EVENTS.length);
  const legend = async (series: string) =>
    Number((await page.locator(`.legend-item[data-series="${series}"] b`).textContent())?.replace(/,/g, ''));
  assert.equal(await legend('ok'), EVENTS.filter((e) => codeOf(e) > 0 && codeOf(e) < 400).length);
  assert.equal(await legend('client'), EVENTS.filter((e) => codeOf(e) >= 400 && codeOf(e) < 500).length);
  assert.equal(await legend('server'), EVENTS.filter((e) => codeOf(e) >= 500).length);
  const noCode = EVENTS.filter((e) => !e.responseStatus).length;
  assert.ok(noCode > 0);
  assert.equal(await legend('none'), noCode);

  // Hover one 15-minute bucket (12 hours → 15m buckets): the legend shows that bucket's counts. The cursor takes the
  // nearest bucket start, so the pointer goes a tenth into the bucket, not to its middle (equally near two starts:
  // the page's axis, from its own "now", seconds later than the test's, tipped it into the next bucket now and then).
  const over = await page.locator('.trend-plot .u-over').boundingBox();
  assert.ok(over);
  const bucket = 15 * 60_000;
  const start = Math.floor((NOW - 12 * 3_600_000) / bucket) * bucket;
  const target = Math.floor((NOW - 3 * 3_600_000) / bucket) * bucket;
  const x = over.x + ((target + bucket / 10 - start) / (NOW - start)) * over.width;
  await page.mouse.move(x, over.y + over.height / 2);
  await page.locator('.trend-when', { hasNotText: 'Whole range' }).waitFor();
  const inBucket = EVENTS.filter((e) => {
    const t = Date.parse(e.requestReceivedTimestamp);
    return t >= target && t < target + bucket;
  });
  assert.ok(inBucket.length > 0, 'the fixture puts events in the hovered bucket');
  const shown = async (s: string) => ((await page.locator(`.legend-item[data-series="${s}"]`).count()) ? legend(s) : 0);
  const hovered = (await legend('ok')) + (await legend('client')) + (await legend('server')) + (await shown('none'));
  assert.equal(hovered, inBucket.length);
  await screenshot(page, 'trend');

  // Drag across the left half of the chart: the URL gets an absolute range and the list narrows to it.
  await page.mouse.move(over.x + 2, over.y + 20);
  await page.mouse.down();
  await page.mouse.move(over.x + over.width / 2, over.y + 20, { steps: 8 });
  await page.mouse.up();
  await page.waitForURL(/start_time=\d+&end_time=\d+/);
  const url = new URL(page.url());
  const s = Number(url.searchParams.get('start_time')) * 1000;
  const e = Number(url.searchParams.get('end_time')) * 1000;
  assert.ok(e - s < 7 * 3_600_000 && e - s > 5 * 3_600_000, `about six hours selected, got ${(e - s) / 3_600_000} h`);
  const expected = EVENTS.filter((ev) => {
    const t = Date.parse(ev.requestReceivedTimestamp);
    return t >= s && t <= e;
  }).length;
  assert.equal(await total(page), expected);
  assert.ok(expected < EVENTS.length);
  assert.deepEqual(pageErrors(page), []);
});

// Each console parameter of KubeSphere's Auditing Operating view, exact or fuzzy, with what the API must return.
const FILTER_CASES: {
  search: string;
  expect: (e: AuditEvent) => boolean;
  column?: [string, (v: string) => boolean];
}[] = [
  { search: 'cluster_filter=host', expect: (e) => e.cluster === 'host' },
  { search: 'workspace_filter=ws-b', expect: (e) => e.workspace === 'ws-b' },
  { search: 'workspace_search=S-B', expect: (e) => !!e.workspace?.toLowerCase().includes('s-b') },
  {
    search: 'objectref_namespace_filter=team-a',
    expect: (e) => e.objectRef?.namespace === 'team-a',
    column: ['c-ns', (v) => v === 'team-a'],
  },
  {
    search: 'objectref_namespace_search=prod',
    expect: (e) => !!e.objectRef?.namespace?.includes('prod'),
    column: ['c-ns', (v) => v === 'team-a-prod'],
  },
  {
    search: 'objectref_resource_filter=secrets',
    expect: (e) => e.objectRef?.resource === 'secrets',
    column: ['c-res', (v) => v === 'secrets'],
  },
  { search: 'objectref_name_search=map-', expect: (e) => !!e.objectRef?.name?.includes('map-') },
  { search: 'verb_filter=delete,patch', expect: (e) => e.verb === 'delete' || e.verb === 'patch' },
  {
    search: 'response_code_filter=403',
    expect: (e) => codeOf(e) === 403,
    column: ['c-code', (v) => v === '403'],
  },
  { search: 'user_filter=alice', expect: (e) => e.user.username === 'alice', column: ['c-user', (v) => v === 'alice'] },
  { search: 'source_ip_search=192.168', expect: (e) => !!e.sourceIPs?.some((ip) => ip.includes('192.168')) },
  { search: 'source_filter=kubesphere', expect: (e) => e.source === 'kubesphere' },
  { search: 'group_search=TEAM-B', expect: (e) => !!e.user.groups?.includes('team-b') },
  {
    search: 'verb_filter=patch&objectref_namespace_filter=team-b&response_code_filter=201,500',
    expect: (e) =>
      e.verb === 'patch' && e.objectRef?.namespace === 'team-b' && (codeOf(e) === 201 || codeOf(e) === 500),
  },
];

test('each filter in the URL narrows the list and the chart exactly as the API says', async () => {
  const page = await open();
  await loaded(page);
  for (const c of FILTER_CASES) {
    await page.goto(`${server.url}/?${c.search}`);
    const want = EVENTS.filter(c.expect).length;
    assert.ok(want > 0 && want < EVENTS.length, `${c.search} selects some events, not all (${want})`);
    assert.equal(await total(page), want, c.search);
    // The list holds them all (one page), the rendered rows satisfy the filter, and a chip shows it.
    assert.equal(await page.locator('.vlist').getAttribute('data-count'), String(want), `${c.search}: rows`);
    if (c.column) {
      const [cls, ok] = c.column;
      for (const v of await column(page, cls)) assert.ok(ok(v), `${c.search}: ${cls} "${v}"`);
    }
    const params = new URLSearchParams(c.search);
    for (const name of params.keys()) assert.equal(await page.locator(`.chip[data-param="${name}"]`).count(), 1, name);
  }
  await screenshot(page, 'filters');
  assert.deepEqual(pageErrors(page), []);
});

test('a filter added in the filter bar goes into the URL under the API parameter name', async () => {
  const page = await open();
  await loaded(page);
  await page.getByTestId('add-filter').click();
  await page.getByLabel('Field', { exact: true }).selectOption('verb');
  await page.getByLabel('Value').fill('delete');
  await page.getByRole('button', { name: 'Add filter' }).click();
  await page.waitForURL(/\?verb_filter=delete$/);
  assert.equal(await total(page), EVENTS.filter((e) => e.verb === 'delete').length);
  for (const v of await column(page, 'c-verb')) assert.equal(v, 'delete');
  // Back in history is the unfiltered view again.
  await page.goBack();
  assert.equal(await total(page), EVENTS.length);
});

test('a fuzzy search finds a partial user name, case-insensitively; free text searches every field', async () => {
  const page = await open();
  await loaded(page);
  await page.getByTestId('add-filter').click();
  await page.getByLabel('Field', { exact: true }).selectOption('user');
  assert.equal(await page.getByRole('button', { name: 'Contains' }).getAttribute('aria-pressed'), 'true');
  await page.getByLabel('Value').fill('SMI');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\?user_search=SMI$/);
  const want = EVENTS.filter((e) => e.user.username === 'bob.smith').length;
  assert.equal(await total(page), want);
  assert.deepEqual([...new Set(await column(page, 'c-user'))], ['bob.smith']);
  await screenshot(page, 'fuzzy-user');

  // `/` focuses the free-text search; typing narrows on any field.
  await page.goto(`${server.url}/`);
  await loaded(page);
  await page.keyboard.press('/');
  await page.keyboard.type('172.16.4');
  await page.waitForURL(/\?q=172\.16\.4$/);
  assert.equal(await total(page), EVENTS.filter((e) => e.sourceIPs?.[0] === '172.16.4.20').length);
});

test('the detail view lays out an event, opens by keyboard, shows its bodies and raw JSON, and Esc closes it', async () => {
  const page = await open('?level_filter=RequestResponse&verb_filter=create,update,patch,delete');
  await total(page);
  // j j Enter: the second newest RequestResponse event.
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  const detail = page.getByTestId('detail');
  await detail.waitFor();
  const e = EVENTS.filter((x) => x.level === 'RequestResponse' && x.verb !== 'get' && x.verb !== 'list')[1];
  const text = (await detail.textContent()) ?? '';
  for (const want of [
    e.user.username,
    e.objectRef?.name,
    e.objectRef?.namespace,
    e.workspace,
    e.auditID,
    e.sourceIPs?.[0],
    String(codeOf(e)),
  ]) {
    assert.ok(want && text.includes(want), `detail shows ${want}`);
  }
  assert.match(text, /Request object/);
  assert.match(text, /Response object/);
  await detail.getByText('Request object').click();
  assert.match((await detail.locator('pre.json').first().textContent()) ?? '', /"labels"/);
  await detail.getByText('Raw JSON').click();
  const raw = JSON.parse((await detail.locator('pre.json').last().textContent()) ?? '{}') as AuditEvent;
  assert.equal(raw.auditID, e.auditID);
  assert.match((await detail.textContent()) ?? '', /This server has no alerts API/);
  await screenshot(page, 'detail');
  await page.keyboard.press('Escape');
  await detail.waitFor({ state: 'detached' });
  assert.deepEqual(pageErrors(page), []);
});

test('live tail streams an event stored after the page opened into the top of the list', async (t) => {
  const liveServer = await startVigil(EVENTS);
  t.after(() => liveServer.close());
  const page = await open('?user_search=newcomer', {}, liveServer.url);
  assert.equal(await total(page), 0);
  await page.getByTestId('live').click();
  await page.waitForSelector('.live-btn.on.on:not(.connecting)');
  await page.getByTestId('live').getByText('Live').waitFor();
  const fresh = fixtureEvents(Date.now() + 5 * 60_000, 1)[0];
  fresh.auditID = 'live-1';
  fresh.user = { username: 'newcomer', groups: [] };
  const other = { ...fresh, auditID: 'live-2', user: { username: 'someone-else' } };
  await liveServer.ingest([other, fresh]);
  await page.locator('.vlist .row .c-user', { hasText: 'newcomer' }).waitFor();
  assert.equal(await page.getByTestId('total').textContent(), '1');
  assert.deepEqual(await column(page, 'c-user'), ['newcomer']);
  await screenshot(page, 'live');
});

test('export saves the whole query, paging with the cursor, as JSON lines and as CSV', async () => {
  const page = await open('?objectref_namespace_search=team');
  const want = await total(page);
  assert.equal(want, EVENTS.length);
  await page.getByRole('button', { name: 'Export' }).click();
  const [jsonl] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('menuitem', { name: /JSON lines/ }).click(),
  ]);
  const lines = fs
    .readFileSync((await jsonl.path()) as string, 'utf8')
    .trim()
    .split('\n');
  assert.equal(lines.length, want);
  assert.deepEqual(new Set(lines.map((l) => JSON.parse(l).auditID)), new Set(EVENTS.map((e) => e.auditID)));
  await page.getByRole('button', { name: 'Export' }).click();
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('menuitem', { name: /CSV/ }).click()]);
  const rows = fs
    .readFileSync((await csv.path()) as string, 'utf8')
    .trim()
    .split('\n');
  assert.equal(rows.length, want + 1);
  assert.match(rows[0], /^time,user,groups,verb,resource/);
});

test('export offers the output formats of `vigil query -o` and writes what they write (#18)', async () => {
  const page = await open('?verb_filter=delete');
  const want = await total(page);
  assert.ok(want > 0);
  // What the CLI encodes: the API's items for the same query, newest first.
  const res = await fetch(`${server.url}/api/v1/events?verb_filter=delete&size=1000&sort=desc`);
  const items = ((await res.json()) as { items: (AuditEvent & { id?: string })[] }).items;
  assert.equal(items.length, want);
  for (const name of OUTPUT_FORMAT_NAMES) {
    await page.getByRole('button', { name: 'Export' }).click();
    const item = page.getByRole('menuitem', { name: new RegExp(`\\.${name}\\.jsonl`) });
    assert.equal(await item.getAttribute('title'), OUTPUT_FORMATS[name].describe);
    const [file] = await Promise.all([page.waitForEvent('download'), item.click()]);
    assert.match(file.suggestedFilename(), new RegExp(`\\.${name}\\.jsonl$`));
    const lines = fs
      .readFileSync((await file.path()) as string, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines,
      items.map((e) => OUTPUT_FORMATS[name].encode(e)),
      name,
    );
  }
  assert.deepEqual(pageErrors(page), []);
});

test('a tenant signs in with its token and sees only its own workspace; a wrong token is refused', async (t) => {
  const tenantServer = await startVigil(EVENTS, { 'tenant-a-token': ['ws-a'] });
  t.after(() => tenantServer.close());
  const page = await open('', { theme: 'dark' }, tenantServer.url);
  const token = page.getByLabel('Access token');
  await token.fill('not-a-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('That token was not accepted.').waitFor();
  await token.fill('tenant-a-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await token.waitFor({ state: 'detached' });
  const mine = EVENTS.filter((e) => e.workspace === 'ws-a');
  assert.equal(await total(page), mine.length);
  const seen = new Set(await column(page, 'c-ns'));
  assert.ok(!seen.has('team-b'), 'no event of ws-b is listed');
  await screenshot(page, 'tenant-dark');
  // Asking for the other tenant's workspace explicitly still shows nothing of it.
  await page.goto(`${tenantServer.url}/?workspace_filter=ws-b`);
  assert.equal(await total(page), 0);
  await page.getByText('No events match.').waitFor();
  // Signing out forgets the token.
  await page.goto(`${tenantServer.url}/`);
  await loaded(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Access token').waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('vigil.token')), null);
});

test('the dark theme and the alerts panel render (alerts API absent: said plainly)', async () => {
  const page = await open('', { theme: 'dark' });
  await loaded(page);
  await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  await page.getByTestId('detail').waitFor();
  await screenshot(page, 'dark-detail');
  await page.getByRole('button', { name: 'Alerts' }).click();
  await page.getByText('Alerts are not available on this server yet.').waitFor();
  await screenshot(page, 'dark-alerts');
  assert.deepEqual(pageErrors(page), []);
});

// The collector has no alerts API yet: this one test runs against the stand-in (test fixture) that serves one.
test('the alerts panel lists alerts; one opens its event, whose detail lists the alerts it raised', async (t) => {
  const alerting = await startStandIn(EVENTS);
  t.after(() => alerting.close());
  const e = alerting.stored.find((x) => x.verb === 'delete' && x.objectRef?.resource === 'secrets') as StoredEvent;
  alerting.alerts.push({
    id: 'a1',
    createdAt: Date.parse(e.requestReceivedTimestamp) + 50,
    rule: 'SecretDeleted',
    priority: 'WARNING',
    message: `${e.user.username} deleted secret ${e.objectRef?.name} in ${e.objectRef?.namespace}`,
    eventId: e.id,
    auditID: e.auditID,
    namespace: e.objectRef?.namespace,
  });
  const page = await open('', {}, alerting.url);
  await loaded(page);
  await page.getByRole('button', { name: 'Alerts' }).click();
  const panel = page.getByTestId('alerts');
  await panel.getByText('SecretDeleted').waitFor();
  await screenshot(page, 'alerts');
  await panel.getByRole('button', { name: 'Open event' }).click();
  const detail = page.getByTestId('detail');
  await detail.getByText(e.auditID).first().waitFor();
  await detail.locator('.alert-list').getByText('SecretDeleted').waitFor();
  assert.match((await detail.textContent()) ?? '', new RegExp(`deleted secret ${e.objectRef?.name}`));
  assert.deepEqual(pageErrors(page), []);
});

test('the list stays virtual: paging to thousands of events with the cursor keeps only the visible rows in the DOM', async (t) => {
  const many = fixtureEvents(NOW, 3000);
  const big = await startVigil(many);
  t.after(() => big.close());
  const page = await open('', {}, big.url);
  assert.equal(await total(page), many.length);
  const list = page.locator('.vlist');
  let maxRows = 0;
  // Scroll to the end again and again: each time the next page loads with `after`, until all are loaded.
  for (let i = 0; i < 40; i++) {
    const count = Number(await list.getAttribute('data-count'));
    maxRows = Math.max(maxRows, await page.locator('.vlist .row').count());
    if (count === many.length) break;
    await list.evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await page.waitForFunction(
      ([sel, before]) =>
        Number(
          (
            globalThis as unknown as { document: { querySelector(s: string): { getAttribute(a: string): string } } }
          ).document
            .querySelector(sel)
            .getAttribute('data-count'),
        ) > before,
      ['.vlist', count] as const,
    );
  }
  assert.equal(Number(await list.getAttribute('data-count')), many.length);
  assert.ok(maxRows > 10 && maxRows < 80, `rendered rows stay bounded (${maxRows})`);
  // At the very bottom the last row is the oldest event (pages joined in order, none repeated or lost).
  await list.evaluate((el) => {
    el.scrollTop = el.scrollHeight;
  });
  const oldest = many[many.length - 1];
  await page.locator(`.vlist .row[data-index="${many.length - 1}"]`).waitFor();
  assert.equal(
    (await page.locator(`.vlist .row[data-index="${many.length - 1}"] .c-time`).getAttribute('title')) ?? '',
    oldest.requestReceivedTimestamp,
  );
  await screenshot(page, 'scrolled');
});
