// The agent's optional HTTP listener (--metrics-listen): /metrics for Prometheus, /healthz with its status.
import http from 'node:http';
import type { Shipper } from './agent.ts';

export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

export async function serveStatus(shipper: Shipper, host: string, port: number): Promise<StatusServer> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(shipper.registry.render());
    } else if (req.method === 'GET' && url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(shipper.status()));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `no route ${req.method} ${url}` }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as { address: string; port: number };
  const h = a.address.includes(':') ? `[${a.address}]` : a.address;
  return {
    url: `http://${h}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
