// First screen of the console with many stored events: from navigation until the trend chart and the first page
// of the list are on screen, against the API calls that screen makes, timed from Node in the same run (baseline).
// The ratio is what the console itself (download, parse, render, chart) adds on top of the queries.
// A second baseline, a blank page in the same browser, separates the browser's fixed cost of any navigation.
//   npm run bench console            (EVENTS=200000 to change the store size)
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../src/config/index.ts';
import { createApp } from '../src/server/app.ts';
import { CONSOLE_DIST_DIR, ensureConsoleBuilt, registerConsole } from '../src/server/console.ts';
import { openStore } from '../src/store/index.ts';
import { launch } from '../test/console/browser.ts';
import { fixtureEvents } from '../test/console/fixtures.ts';

const N = Number(process.env.EVENTS ?? 100_000);
const RUNS = 7;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

await ensureConsoleBuilt({ log: () => {} });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-console-bench-'));
const store = await openStore({ type: 'sqlite', path: path.join(dir, 'vigil.db') });
const now = Date.now();
const t0 = performance.now();
const events = fixtureEvents(now, N);
for (let i = 0; i < events.length; i += 5000) await store.append(events.slice(i, i + 5000));
const seedMs = performance.now() - t0;

const config = parseConfig('', 'bench.yaml', { listen: '127.0.0.1:0', data: dir });
const app = createApp({ config, store, logger: false });
if (!app.fastify.hasRoute({ method: 'GET', url: '/' })) registerConsole(app.fastify, { distDir: CONSOLE_DIST_DIR });
// Second baseline: what any navigation costs this browser (new page, connection, a minimal document).
app.fastify.get('/api/bench-blank', (_req, reply) => reply.type('text/html').send('<!doctype html><p id="x">x</p>'));
await app.fastify.listen({ host: '127.0.0.1', port: 0 });
app.setReady(true);
const url = `http://127.0.0.1:${(app.fastify.server.address() as AddressInfo).port}`;

// The first screen's requests, as the console makes them (query.ts / App.tsx), straight from Node.
function firstScreenRequests(): string[] {
  const end = Math.ceil(Date.now() / 1000);
  const start = Math.floor((Date.now() - 12 * 3_600_000) / 1000);
  const range = `start_time=${start}&end_time=${end}`;
  const codes = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i).join(',');
  return [
    `/api/v1/events?${range}&sort=desc&size=200`,
    `/api/v1/events/histogram?${range}&interval=15m`,
    `/api/v1/events/histogram?${range}&response_code_filter=${codes(100, 399)}&interval=15m`,
    `/api/v1/events/histogram?${range}&response_code_filter=${codes(400, 499)}&interval=15m`,
    `/api/v1/events/histogram?${range}&response_code_filter=${codes(500, 599)}&interval=15m`,
  ];
}

const api: number[] = [];
const blank: number[] = [];
const screen: number[] = [];
const browser = await launch();
try {
  for (let run = 0; run < RUNS; run++) {
    const a = performance.now();
    const replies = (await Promise.all(firstScreenRequests().map((p) => fetch(url + p).then((r) => r.json())))) as {
      total: number;
    }[];
    api.push(performance.now() - a);
    if (replies[0].total !== N) throw new Error(`expected ${N} events, the API says ${replies[0].total}`);

    const empty = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const c = performance.now();
    await empty.goto(`${url}/api/bench-blank`);
    await empty.waitForSelector('#x');
    blank.push(performance.now() - c);
    await empty.close();

    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const b = performance.now();
    await page.goto(`${url}/`);
    await page.waitForSelector('.results[data-loading="false"] .vlist .row');
    await page.waitForSelector('.trend-card[data-loading="false"] .trend-plot canvas');
    screen.push(performance.now() - b);
    await page.close();
  }
} finally {
  await browser.close();
  await app.fastify.close();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

const apiMs = median(api);
const blankMs = median(blank);
const screenMs = median(screen);
console.log(`stored events            ${N.toLocaleString('en-US')} (seeded in ${(seedMs / 1000).toFixed(1)} s)`);
console.log(
  `first-screen API calls   ${apiMs.toFixed(0)} ms  (baseline: list page + 4 histograms from Node, median of ${RUNS})`,
);
console.log(`console first screen     ${screenMs.toFixed(0)} ms  (navigation → chart + first rows, median of ${RUNS})`);
console.log(`blank page navigation    ${blankMs.toFixed(0)} ms  (baseline: the browser's cost of any page)`);
console.log(`ratio console / (API + blank page)  ${(screenMs / (apiMs + blankMs)).toFixed(2)}`);
