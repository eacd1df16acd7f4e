// The list as a table (#22 §9, #16 §4, #17): the column chooser (Cluster and the rest), ascending/descending sort,
// service-account names shortened in the middle, project and source IP kept with the detail open, the detail's
// matched rules, and the layout at 800 px.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { AuditEvent } from '../../src/event/model.ts';
import { ensureConsoleBuilt } from '../../src/server/console.ts';
import { column, launch, loaded, openPage, pageErrors, total } from './browser.ts';
import { fixtureEvents } from './fixtures.ts';
import { startVigil, type VigilServer } from './server.ts';

const NOW = Date.now();
const EVENTS = fixtureEvents(NOW);
// A pod created on the host's network: the collector's default KubeSphere rules alert on it and record the rule.
const FLAGGED: AuditEvent = {
  ...fixtureEvents(NOW, 1)[0],
  auditID: 'flagged-0001',
  verb: 'create',
  objectRef: { resource: 'pods', namespace: 'team-a', name: 'hostnet', apiVersion: 'v1' },
  requestObject: { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'hostnet' }, spec: { hostNetwork: true } },
};
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

async function open(search = '', viewport?: { width: number; height: number }): Promise<Page> {
  const page = await openPage(browser);
  if (viewport) await page.setViewportSize(viewport);
  await page.goto(`${server.url}/${search}`);
  return page;
}

test('the column chooser adds Cluster and Workspace (kept in this browser); Time sorts oldest first', async () => {
  const page = await open('?verb_filter=get');
  await loaded(page);
  await page.getByRole('button', { name: 'Columns' }).click();
  await page.getByRole('checkbox', { name: 'Cluster' }).check();
  await page.getByRole('checkbox', { name: 'Workspace' }).check();
  await page.getByRole('checkbox', { name: 'Source', exact: true }).uncheck();
  const heads = await page.locator('.thead > *').allTextContents();
  assert.ok(heads.includes('Cluster') && heads.includes('Workspace') && !heads.includes('Source'), heads.join());
  const gets = EVENTS.filter((e) => e.verb === 'get').sort(
    (a, b) => Date.parse(b.requestReceivedTimestamp) - Date.parse(a.requestReceivedTimestamp),
  );
  assert.deepEqual(
    (await column(page, 'c-cluster')).slice(0, 5),
    gets.slice(0, 5).map((e) => e.cluster ?? ''),
  );
  assert.deepEqual(
    (await column(page, 'c-ws')).slice(0, 5),
    gets.slice(0, 5).map((e) => e.workspace ?? ''),
  );

  await page.getByRole('button', { name: /^Time, newest first/ }).click();
  await page.waitForURL(/sort=asc/);
  await loaded(page);
  const oldest = [...gets].reverse();
  assert.deepEqual(
    await column(page, 'c-cluster').then((c) => c.slice(0, 5)),
    oldest.slice(0, 5).map((e) => e.cluster ?? ''),
  );
  assert.match((await page.locator('.tfoot').textContent()) ?? '', /oldest first/);

  // Another page of this browser (same profile) keeps the choice.
  const again = await page.context().newPage();
  await again.goto(`${server.url}/`);
  await loaded(again);
  assert.ok((await again.locator('.thead > *').allTextContents()).includes('Cluster'));
  assert.deepEqual([...pageErrors(page), ...pageErrors(again)], []);
});

test('a long service-account name is shortened in the middle; project and source IP stay with the detail open', async () => {
  const page = await open('?user_search=serviceaccount');
  await loaded(page);
  const users = await column(page, 'c-user');
  assert.ok(users.length > 0);
  for (const u of users) {
    assert.match(u, /^system:serviceacc.*….*ller$/, u);
    assert.ok(u.length <= 34);
  }
  await page.locator('.vlist .row').first().click();
  await page.getByTestId('detail').waitFor();
  for (const cls of ['c-ns', 'c-ip']) {
    const visible = await page.locator(`.vlist .row .${cls}`).first().isVisible();
    assert.ok(visible, `${cls} visible with the detail open`);
  }
  assert.deepEqual(pageErrors(page), []);
});

test('the detail lists the rules that matched the event, with a pivot on the rule', async (t) => {
  const ruled = await startVigil([FLAGGED], undefined, { rules: { enabled: true } });
  t.after(() => ruled.close());
  const page = await openPage(browser);
  await page.goto(`${ruled.url}/?audit_id_filter=${FLAGGED.auditID}`);
  assert.equal(await total(page), 1);
  const rules = page.getByRole('region', { name: 'Matched rules' });
  const name = 'alerting-rule.CreateHostnetworkPod';
  await rules.getByText(name).waitFor();
  await rules.getByRole('button', { name: `Filter on Rule ${name}` }).click();
  await page.waitForURL(/rule_filter=alerting-rule.CreateHostnetworkPod/);
  assert.equal(await total(page), 1);
  assert.deepEqual(pageErrors(page), []);
});

/** WCAG contrast of an element's text against the nearest opaque background, computed in the page. */
async function contrast(page: Page, selector: string): Promise<number> {
  return page
    .locator(selector)
    .first()
    .evaluate((el) => {
      type Node = { parentElement: Node | null } & object;
      const g = globalThis as unknown as { getComputedStyle(e: object): { color: string; backgroundColor: string } };
      const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
      const lum = ([r, gr, b]: number[]) => {
        const f = (c: number) => {
          const v = c / 255;
          return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(r) + 0.7152 * f(gr) + 0.0722 * f(b);
      };
      let bg: number[] = [255, 255, 255];
      for (let n: Node | null = el as unknown as Node; n; n = n.parentElement) {
        const c = rgb(g.getComputedStyle(n).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] === 1)) {
          bg = c.slice(0, 3);
          break;
        }
      }
      const [a, b] = [lum(rgb(g.getComputedStyle(el).color)), lum(bg)].sort((x, y) => y - x);
      return (a + 0.05) / (b + 0.05);
    });
}

test('light mode text meets 4.5:1: the delete pill, 5xx codes, hints', async () => {
  const page = await open('?verb_filter=delete');
  await loaded(page);
  for (const sel of ['.verb.danger', '.c-code.server', '.trend-hint', '.tfoot']) {
    if (!(await page.locator(sel).count())) continue;
    const ratio = await contrast(page, sel);
    assert.ok(ratio >= 4.5, `${sel}: ${ratio.toFixed(2)}:1`);
  }
  assert.ok(await page.locator('.verb.danger').count());
  assert.ok(await page.locator('.c-code.server').count());
  assert.deepEqual(pageErrors(page), []);
});

test('at 800 px the console fits: no sideways scroll, the detail stacks under the list, focus moves into it', async () => {
  const page = await open('', { width: 800, height: 900 });
  await loaded(page);
  const fits = () =>
    page.evaluate(() => {
      const d = (
        globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }
      ).document.documentElement;
      return d.scrollWidth <= d.clientWidth;
    });
  assert.ok(await fits(), 'no horizontal scroll');
  assert.equal(await page.getByTestId('trend').isVisible(), false, 'the chart is collapsed');
  await page.locator('.vlist .row').first().click();
  const detail = page.getByTestId('detail');
  await detail.waitFor();
  const list = await page.locator('.results').boundingBox();
  const box = await detail.boundingBox();
  assert.ok(list && box && box.y >= list.y + list.height - 1, 'the detail is under the list');
  assert.ok(await fits());
  assert.ok(
    await detail.evaluate((el) =>
      el.contains((globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement as never),
    ),
    'focus is in the detail',
  );
  assert.deepEqual(pageErrors(page), []);
});
