// The console as an investigator (#22): pivots that keep the place, include and exclude with named buttons, the
// event permalink, unknown URL parameters kept, and the events around an event one action away.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../../src/server/console.ts';
import { FREE_TEXT } from '../../src/store/fields.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { column, launch, loaded, openPage, pageErrors, total } from './browser.ts';
import { fixtureEvents } from './fixtures.ts';
import { startVigil, type VigilServer } from './server.ts';
import { startStandIn } from './standin.ts';

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

async function open(search = ''): Promise<Page> {
  const page = await openPage(browser);
  await page.goto(`${server.url}/${search}`);
  return page;
}

/** The audit ID the detail shows. */
async function detailAuditId(page: Page): Promise<string> {
  const dd = page.getByTestId('detail').locator('dt:text-is("Audit ID") + dd');
  return ((await dd.locator('.mono').textContent()) ?? '').trim();
}

test('pivots from the detail include (+) or exclude (−) a value, keep the event open and its row marked', async () => {
  const page = await open('?user_filter=alice');
  await loaded(page);
  await page.locator('.vlist .row').nth(2).click();
  const id = await detailAuditId(page);
  const e = EVENTS.find((x) => x.auditID === id);
  assert.ok(e?.verb);
  const detail = page.getByTestId('detail');
  // Every pivot's accessible name says the field and the value.
  await detail.getByRole('button', { name: `Exclude Operator alice` }).waitFor();
  await detail.getByRole('button', { name: `Filter on Source IP ${e.sourceIPs?.[0]}` }).waitFor();
  await detail.getByRole('button', { name: `Filter on Group team-a` }).waitFor();
  await detail.getByRole('button', { name: `Filter on Audit ID ${id}` }).waitFor();

  await detail.getByRole('button', { name: `Filter on Verb ${e.verb}` }).click();
  await page.waitForURL(new RegExp(`verb_filter=${e.verb}`));
  await loaded(page);
  assert.equal(await detailAuditId(page), id, 'the same event stays open');
  assert.ok((await column(page, 'c-verb')).every((v) => v === e.verb));
  const marked = page.locator('.vlist .row.anchor.selected');
  await marked.waitFor();
  assert.equal(await marked.count(), 1);

  // Exclusion goes to the API as <field>_exclude (the list request carries it).
  const listed = page.waitForRequest(
    (r) => /\/api\/v1\/events\?/.test(r.url()) && r.url().includes('objectref_resource_exclude='),
  );
  await detail.getByRole('button', { name: `Exclude Resource type ${e.objectRef?.resource}` }).click();
  const req = new URL((await listed).url());
  assert.equal(req.searchParams.get('objectref_resource_exclude'), e.objectRef?.resource);
  assert.equal(new URL(page.url()).searchParams.get('objectref_resource_exclude'), e.objectRef?.resource);
  await page.locator('.chip[data-param="objectref_resource_exclude"]').getByText('is not').waitFor();
  assert.equal(await detailAuditId(page), id);
  assert.deepEqual(pageErrors(page), []);
});

test('a permalink ?audit_id_filter=<id> shows that event with its detail open', async () => {
  const e = EVENTS[37];
  const page = await open(`?audit_id_filter=${e.auditID}`);
  assert.equal(await total(page), 1);
  await page.getByTestId('detail').waitFor();
  assert.equal(await detailAuditId(page), e.auditID);
  assert.match(page.url(), new RegExp(`audit_id_filter=${e.auditID}`));
  assert.deepEqual(pageErrors(page), []);
});

test('URL parameters the console does not render are kept across changes and sent to the API', async () => {
  const page = await open('?verb_filter=get&future_param=x1');
  await loaded(page);
  const sent = page.waitForRequest((r) => /\/api\/v1\/events\?/.test(r.url()) && r.url().includes('q=alice'));
  const search = page.getByRole('searchbox', { name: 'Search events' });
  await search.fill('alice');
  await search.press('Enter');
  assert.equal(new URL((await sent).url()).searchParams.get('future_param'), 'x1');
  await page.waitForURL(/q=alice/);
  assert.equal(new URL(page.url()).searchParams.get('future_param'), 'x1');
  assert.equal(new URL(page.url()).searchParams.get('verb_filter'), 'get');
  assert.deepEqual(pageErrors(page), []);
});

test('surrounding events are one action away: ±15 min of the same user, the event open and marked', async () => {
  const page = await open();
  await loaded(page);
  await page.locator('.vlist .row').nth(10).click();
  const id = await detailAuditId(page);
  const e = EVENTS.find((x) => x.auditID === id);
  assert.ok(e);
  const t = Date.parse(e.requestReceivedTimestamp);
  await page.getByRole('button', { name: '±15 min' }).click();
  await page.getByRole('button', { name: 'Show events within ±15 min, same user' }).click();
  await page.waitForURL(/start_time=/);
  await loaded(page);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('user_filter'), e.user.username);
  const s = Number(url.searchParams.get('start_time')) * 1000;
  const end = Number(url.searchParams.get('end_time')) * 1000;
  assert.ok(s <= t - 15 * 60_000 + 1000 && end >= t + 15 * 60_000 - 1000);
  const want = EVENTS.filter((x) => {
    const xt = Date.parse(x.requestReceivedTimestamp);
    return x.user.username === e.user.username && xt >= s && xt <= end;
  }).length;
  assert.equal(await total(page), want);
  assert.equal(await detailAuditId(page), id);
  await page.locator('.vlist .row.anchor').waitFor();
  assert.deepEqual(pageErrors(page), []);
});

test('facets show the top values of the query with their counts, each one click from include or exclude', async () => {
  const page = await open('?response_code_filter=403');
  await loaded(page);
  await page.getByRole('button', { name: 'Facets' }).click();
  const ips = page.getByRole('region', { name: 'Top Source IP' });
  await ips.locator('li').first().waitFor();
  const failed = EVENTS.filter((e) => e.responseStatus?.code === 403);
  const want = new Map<string, number>();
  for (const e of failed) for (const ip of e.sourceIPs ?? []) want.set(ip, (want.get(ip) ?? 0) + 1);
  const rows = await ips
    .locator('li')
    .evaluateAll((lis) =>
      lis.map((li) => [
        (li.querySelector('.value-link > span')?.textContent ?? '').trim(),
        Number(li.querySelector('.facet-count')?.textContent),
      ]),
    );
  assert.deepEqual(new Map(rows as [string, number][]), new Map([...want].sort((a, b) => b[1] - a[1]).slice(0, 5)));
  for (const name of ['Operator', 'Verb', 'Resource type', 'Project', 'Status code'])
    await page
      .getByRole('region', { name: `Top ${name}` })
      .locator('li')
      .first()
      .waitFor();
  const [ip] = [...want.keys()];
  await ips.getByRole('button', { name: `Exclude Source IP ${ip}` }).click();
  await page.waitForURL(/source_ip_exclude=/);
  assert.equal(new URL(page.url()).searchParams.get('source_ip_exclude'), ip);
  assert.deepEqual(pageErrors(page), []);
});

test("the legend's Success / 4xx / 5xx toggle the status class in the code filter", async () => {
  const page = await open();
  await loaded(page);
  const sent = page.waitForRequest(
    (r) => /\/api\/v1\/events\?/.test(r.url()) && r.url().includes('response_code_filter='),
  );
  await page.locator('.legend-item[data-series="client"]').click();
  assert.equal(new URL((await sent).url()).searchParams.get('response_code_filter'), '4xx');
  await page.waitForURL(/response_code_filter=4xx/);
  assert.equal(await page.locator('.legend-item[data-series="client"]').getAttribute('aria-pressed'), 'true');
  await page.locator('.legend-item[data-series="server"]').click();
  await page.waitForURL(/response_code_filter=4xx%2C5xx/);
  await page.locator('.legend-item[data-series="client"]').click();
  await page.waitForURL((u) => u.searchParams.get('response_code_filter') === '5xx');
  // The chart counts the class from the same code lists as ever: 5xx only.
  await loaded(page);
  const server = EVENTS.filter((e) => (e.responseStatus?.code ?? 0) >= 500).length;
  assert.equal(Number(await page.locator('.legend-item[data-series="server"] b').textContent()), server);
  assert.equal(Number(await page.locator('.legend-item[data-series="client"] b').textContent()), 0);
  assert.deepEqual(pageErrors(page), []);
});

test("an object's history lists each write with who, when and what changed; masked values say only that", async (t) => {
  // The history API (contract of /api/v1/objects/history) answered by the stand-in, so the console is tested on
  // its own; the incident walk-through runs it against the collector.
  const standIn = await startStandIn(EVENTS);
  t.after(() => standIn.close());
  const e = standIn.stored.find((x) => x.objectRef?.resource === 'secrets' && x.objectRef.name) as StoredEvent;
  const r = e.objectRef as { resource: string; namespace: string; name: string };
  standIn.histories.set(`${r.resource}/${r.namespace}/${r.name}`, {
    object: r,
    items: [
      {
        auditID: 'h-1',
        time: '2026-12-07T10:00:00Z',
        user: 'alice',
        verb: 'create',
        code: 201,
        stage: 'ResponseComplete',
        change: {
          kind: 'created',
          diff: [
            { path: '/data/username', op: 'add', after: 'app' },
            { path: '/data/password', op: 'add', masked: 'changed' },
          ],
        },
      },
      {
        auditID: 'h-2',
        time: '2026-12-07T11:00:00Z',
        user: 'contractor-joe',
        verb: 'patch',
        code: 200,
        stage: 'ResponseComplete',
        change: {
          kind: 'patched',
          diff: [
            { path: '/data/password', op: 'replace', masked: 'changed' },
            { path: '/data/api-key', op: 'add', masked: 'changed' },
            { path: '/metadata/labels/tier', op: 'replace', before: 'db', after: 'public' },
          ],
        },
      },
    ],
  });
  const page = await openPage(browser);
  await page.goto(`${standIn.url}/?audit_id_filter=${e.auditID}`);
  const detail = page.getByTestId('detail');
  await detail.getByRole('button', { name: 'History' }).click();
  const history = page.getByTestId('history');
  await history.locator('[data-audit-id="h-2"]').waitFor();
  const patch = history.locator('[data-audit-id="h-2"]');
  const text = (await patch.textContent()) ?? '';
  assert.match(text, /contractor-joe patch/);
  assert.match(text, /\/data\/api-key added \(masked\)/);
  assert.match(text, /\/data\/password value changed \(masked\)/);
  assert.match(text, /\/metadata\/labels\/tier db → public/);
  assert.match(
    (await history.locator('[data-audit-id="h-1"]').textContent()) ?? '',
    /alice create.*\/data\/username app/,
  );
  await history.getByRole('button', { name: 'Back to event' }).click();
  await detail.getByRole('button', { name: 'History' }).waitFor();
  assert.deepEqual(pageErrors(page), []);
});

test('share and keep: a link with the time range frozen, saved searches and recent ones in this browser', async () => {
  const page = await open('?range=6h&verb_filter=delete');
  await loaded(page);
  await page.getByRole('button', { name: 'Share & saved' }).click();
  const dialog = page.getByRole('dialog', { name: 'Share and saved searches' });
  const link = dialog.getByLabel('Link');
  assert.match(await link.inputValue(), /\?verb_filter=delete&range=6h$/);
  await dialog.getByLabel('Freeze the time range').check();
  const frozen = new URL(await link.inputValue());
  assert.equal(frozen.searchParams.get('range'), null);
  const span = Number(frozen.searchParams.get('end_time')) - Number(frozen.searchParams.get('start_time'));
  assert.ok(Math.abs(span - 6 * 3600) <= 2, `six hours frozen, got ${span} s`);
  await dialog.getByRole('button', { name: 'Copy link' }).click();
  await dialog.getByRole('button', { name: 'Copied' }).waitFor();
  // The frozen link opens the same events.
  const same = await openPage(browser);
  await same.goto(frozen.toString());
  assert.equal(await total(same), await total(page));

  await dialog.getByLabel('Search name').fill('deletes');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.getByRole('button', { name: 'deletes', exact: true }).waitFor();
  // Go elsewhere, then back through the saved search; the one left is among the recent ones.
  await page.keyboard.press('Escape');
  await page.goto(`${server.url}/?verb_filter=get`);
  await loaded(page);
  const search = page.getByRole('searchbox', { name: 'Search events' });
  await search.fill('alice');
  await search.press('Enter');
  await page.waitForURL(/q=alice/);
  await page.getByRole('button', { name: 'Share & saved' }).click();
  await dialog.getByRole('button', { name: /verb_filter=get&q=alice/ }).waitFor();
  await dialog.getByRole('button', { name: 'deletes', exact: true }).click();
  await page.waitForURL(/verb_filter=delete&range=6h/);
  await loaded(page);
  assert.ok((await column(page, 'c-verb')).every((v) => v === 'delete'));
  assert.deepEqual(pageErrors(page), []);
});

test('the free-text box says what it searches (the field table says it, bodies excluded)', async () => {
  const page = await open();
  await loaded(page);
  const search = page.getByRole('searchbox', { name: 'Search events' });
  assert.equal(await search.getAttribute('title'), FREE_TEXT.description);
  // Its accessible description (what a screen reader reads with the box) is the same sentence.
  const described = await search.getAttribute('aria-describedby');
  assert.ok(described);
  assert.equal((await page.locator(`#${described}`).textContent())?.trim(), FREE_TEXT.description);
  for (const f of FREE_TEXT.fields) assert.ok(FREE_TEXT.description.includes(f.label), f.label);
  assert.match(FREE_TEXT.description, /not bodies/);
  assert.deepEqual(pageErrors(page), []);
});

test('the request URI and the user agent of the detail are pivots too (request_uri_filter, user_agent_exclude)', async () => {
  const page = await open('?verb_filter=get');
  await loaded(page);
  await page.locator('.vlist .row').first().click();
  const id = await detailAuditId(page);
  const e = EVENTS.find((x) => x.auditID === id);
  assert.ok(e?.requestURI && e.userAgent);
  const detail = page.getByTestId('detail');
  await detail.getByRole('button', { name: `Filter on Request URI ${e.requestURI}` }).click();
  await page.waitForURL((u) => u.searchParams.get('request_uri_filter') === e.requestURI);
  await loaded(page);
  assert.equal(await detailAuditId(page), id, 'the same event stays open');
  const want = EVENTS.filter((x) => x.verb === 'get' && x.requestURI === e.requestURI).length;
  assert.equal(await total(page), want);
  await page.locator('.chip[data-param="request_uri_filter"]').waitFor();

  // Every fixture event has this user agent: excluding it leaves none, and the API got user_agent_exclude.
  const listed = page.waitForRequest(
    (r) => /\/api\/v1\/events\?/.test(r.url()) && r.url().includes('user_agent_exclude='),
  );
  await detail.getByRole('button', { name: `Exclude User agent ${e.userAgent}` }).click();
  assert.equal(new URL((await listed).url()).searchParams.get('user_agent_exclude'), e.userAgent);
  await loaded(page);
  assert.equal(await total(page), 0);
  assert.deepEqual(pageErrors(page), []);
});

test('pivots from list cells: right-click a cell, or Shift+F10 on the selected row, for named include / exclude', async () => {
  const page = await open('?verb_filter=get');
  await loaded(page);
  const row = page.locator('.vlist .row').first();
  const user = ((await row.locator('[data-col="user"]').getAttribute('title')) ?? '').trim();
  assert.ok(user);
  // Right-click the Operator cell: a menu of that cell's value, outside the row's own button.
  await row.locator('[data-col="user"]').click({ button: 'right' });
  const menu = page.getByRole('menu', { name: "Filter on this row's values" });
  await menu.waitFor();
  assert.equal(await page.locator('.vlist .row [role="menu"]').count(), 0, 'not inside the row button');
  assert.equal(await menu.getByRole('menuitem').count(), 2);
  await menu.getByRole('menuitem', { name: `Exclude Operator ${user}` }).click();
  await page.waitForURL((u) => u.searchParams.get('user_exclude') === user);
  await loaded(page);
  assert.ok((await column(page, 'c-user')).every((u) => u !== user));
  await menu.waitFor({ state: 'detached' });

  // Keyboard: select a row (j), Shift+F10 opens the menu of every shown column; focus is in it; Esc closes it.
  await page.keyboard.press('j');
  await page.keyboard.press('Shift+F10');
  await menu.waitFor();
  const names = await menu.getByRole('menuitem').allTextContents();
  assert.ok(names.includes('Filter on Verb get'), names.join(' | '));
  assert.equal(await page.locator(':focus').getAttribute('role'), 'menuitem');
  await page.keyboard.press('Escape');
  await menu.waitFor({ state: 'detached' });
  await page.keyboard.press('Shift+F10');
  await menu
    .getByRole('menuitem', { name: /^Filter on Resource type / })
    .first()
    .click();
  await page.waitForURL(/objectref_resource_filter=/);
  await loaded(page);
  const resource = new URL(page.url()).searchParams.get('objectref_resource_filter');
  assert.ok((await column(page, 'c-res')).every((r) => r.startsWith(resource ?? '?')));
  assert.deepEqual(pageErrors(page), []);
});
