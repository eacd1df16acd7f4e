import net from 'node:net';
import { startTestServer } from './server/helpers.ts';
import { makeEvent } from './store/contract.ts';

const s = await startTestServer();
const socks: net.Socket[] = [];
for (let i = 0; i < 30; i++) {
  const { hostname, port } = new URL(s.url);
  socks.push(
    await new Promise<net.Socket>((res) => {
      const c = net.connect({ host: hostname, port: Number(port) }, () => {
        c.pause();
        c.write(`GET /api/v1/events/stream HTTP/1.1\r\nhost: x\r\n\r\n`);
        res(c);
      });
    }),
  );
}
while (s.app.liveTails().length < 30) await new Promise((r) => setTimeout(r, 20));
globalThis.gc?.();
const rss0 = process.memoryUsage().rss;
for (let n = 0; n < 100_000; n += 500)
  await s.store.append(
    Array.from({ length: 500 }, (_, i) =>
      makeEvent({ userAgent: `a-${'x'.repeat(700)}-${n + i}` }, Date.parse('2026-03-01T12:00:00Z') + n + i),
    ),
  );
globalThis.gc?.();
const rss1 = process.memoryUsage().rss;
const t = s.app.liveTails();
console.log(
  JSON.stringify({
    rssBeforeMB: Math.round(rss0 / 1e6),
    rssAfterMB: Math.round(rss1 / 1e6),
    maxBuffered: Math.max(...t.map((x) => x.buffered)),
    skipped: t.map((x) => x.skipped).slice(0, 3),
  }),
);
for (const c of socks) c.destroy();
await s.close();
