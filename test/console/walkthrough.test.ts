// The incident walk-through of #22's "Done means": events with a story (a contractor's 403 burst from two IPs, a
// RoleBinding, a patched secret, a changed ConfigMap) among ordinary traffic, investigated in the console as an
// analyst would: the failing source IPs read from facets, the events around the patch one action away, and the
// secret's history saying who added which key.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { AuditEvent } from '../../src/event/model.ts';
import { ensureConsoleBuilt } from '../../src/server/console.ts';
import { launch, loaded, openPage, pageErrors, total } from './browser.ts';
import { fixtureEvents } from './fixtures.ts';
import { startVigil, type VigilServer } from './server.ts';

const NOW = Date.now();
const T0 = NOW - 2 * 3_600_000; // the incident, two hours ago
const at = (min: number) => new Date(T0 + min * 60_000).toISOString();
let n = 0;
function ev(
  min: number,
  user: string,
  ip: string,
  verb: string,
  code: number,
  ref: AuditEvent['objectRef'],
  extra: Partial<AuditEvent> = {},
): AuditEvent {
  n++;
  return {
    level: 'RequestResponse',
    auditID: `incident-${String(n).padStart(4, '0')}`,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${ref?.namespace}/${ref?.resource}${ref?.name ? `/${ref.name}` : ''}`,
    verb,
    user: { username: user, groups: ['system:authenticated'] },
    sourceIPs: [ip],
    userAgent: 'kubectl/v1.31.0',
    objectRef: { apiVersion: 'v1', ...ref },
    responseStatus: { code },
    requestReceivedTimestamp: at(min),
    stageTimestamp: at(min),
    workspace: 'ws-pay',
    source: 'kubernetes',
    ...extra,
  };
}
const SECRET = { resource: 'secrets', namespace: 'payments', name: 'db-credentials' };
const secret = (data: Record<string, string>) => ({
  kind: 'Secret',
  apiVersion: 'v1',
  metadata: { name: 'db-credentials', namespace: 'payments' },
  data,
});
const STORY: AuditEvent[] = [
  ev(-60, 'alice', '10.1.0.5', 'create', 201, SECRET, {
    requestObject: secret({ username: 'YXBw', password: 'czNjcjN0' }),
    responseObject: secret({ username: 'YXBw', password: 'czNjcjN0' }),
  }),
  // The burst: 12 denied reads from one address, 5 from another.
  ...Array.from({ length: 12 }, (_, i) =>
    ev(i * 0.2, 'contractor-joe', '203.0.113.7', 'get', 403, {
      resource: 'secrets',
      namespace: 'payments',
      name: `s-${i}`,
    }),
  ),
  ...Array.from({ length: 5 }, (_, i) =>
    ev(3 + i * 0.2, 'contractor-joe', '198.51.100.23', 'list', 403, { resource: 'secrets', namespace: 'kube-system' }),
  ),
  ev(5, 'contractor-joe', '203.0.113.7', 'create', 201, {
    resource: 'rolebindings',
    namespace: 'payments',
    name: 'joe-secrets',
    apiGroup: 'rbac.authorization.k8s.io',
  }),
  ev(6, 'contractor-joe', '203.0.113.7', 'patch', 200, SECRET, {
    requestObject: { data: { 'api-key': 'bGVhaw==' } },
    responseObject: secret({ username: 'YXBw', password: 'czNjcjN0', 'api-key': 'bGVhaw==' }),
  }),
  ev(
    7,
    'contractor-joe',
    '203.0.113.7',
    'update',
    200,
    { resource: 'configmaps', namespace: 'payments', name: 'app-config' },
    {
      requestObject: {
        kind: 'ConfigMap',
        apiVersion: 'v1',
        metadata: { name: 'app-config', namespace: 'payments' },
        data: { debug: 'true' },
      },
    },
  ),
];
let server: VigilServer;
let browser: Browser;

before(async () => {
  await ensureConsoleBuilt({ log: () => {} });
  server = await startVigil([...fixtureEvents(NOW, 400), ...STORY]);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("incident walk-through: failing IPs from facets, the events around the patch, the secret's history", async (t) => {
  const page = await openPage(browser);
  // 1. Who is failing? The denied calls, and the source IPs read from the facets (no row reading).
  await page.goto(`${server.url}/?response_code_filter=403&user_filter=contractor-joe`);
  assert.equal(await total(page), 17);
  await page.getByRole('button', { name: 'Facets' }).click();
  const ips = page.getByRole('region', { name: 'Top Source IP' });
  await ips.locator('li').nth(1).waitFor();
  const rows = await ips
    .locator('li')
    .evaluateAll((lis) =>
      lis.map(
        (li) =>
          `${li.querySelector('.value-link > span')?.textContent} ${li.querySelector('.facet-count')?.textContent}`,
      ),
    );
  assert.deepEqual(rows, ['203.0.113.7 12', '198.51.100.23 5']);

  // 2. The patched secret, and everything around it: one action from its detail.
  await page.goto(`${server.url}/?range=24h&objectref_name_filter=db-credentials&verb_filter=patch`);
  assert.equal(await total(page), 1);
  await page.locator('.vlist .row').first().click();
  const detail = page.getByTestId('detail');
  await detail.getByText('contractor-joe').first().waitFor();
  await detail.getByRole('button', { name: 'Show events within ±5 min, same user' }).click();
  await page.waitForURL(/start_time=/);
  await loaded(page);
  const around = STORY.filter(
    (e) =>
      e.user.username === 'contractor-joe' &&
      Math.abs(Date.parse(e.requestReceivedTimestamp) - (T0 + 6 * 60_000)) <= 5 * 60_000,
  );
  assert.equal(await total(page), around.length);
  const verbs = await page.locator('.vlist .row .c-verb').allTextContents();
  assert.ok(
    verbs.includes('create') && verbs.includes('update'),
    `the RoleBinding and the ConfigMap are there: ${verbs}`,
  );
  await page.locator('.vlist .row.anchor.selected').waitFor();

  // 3. What did the patch change? The secret's history: alice created it, contractor-joe added api-key.
  const probe = await fetch(
    `${server.url}/api/v1/objects/history?resource=secrets&namespace=payments&name=db-credentials`,
  );
  if (probe.status === 404) {
    // The history API (#22, the investigate branch) is not in this build: the console's history view is tested
    // against its contract in investigate.test.ts.
    t.diagnostic('no /api/v1/objects/history in this build: the history step is skipped');
  } else {
    await detail.getByRole('button', { name: 'History' }).click();
    const history = page.getByTestId('history');
    await history.locator('li[data-audit-id]').nth(1).waitFor();
    const items = await history.locator('.history-list > li').allTextContents();
    assert.match(items[0], /alice create/);
    assert.match(items[0], /\/data.*password/);
    const patch = items.find((x) => /contractor-joe patch/.test(x));
    assert.ok(patch, items.join('\n'));
    // Who added which key: the contractor's patch added api-key.
    assert.match(patch, /\+\/data\/api-key/);
  }
  assert.deepEqual(pageErrors(page), []);
});
