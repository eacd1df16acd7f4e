// The HTTP destinations: a generic webhook (a JSON array of events per request, signed as Standard Webhooks when a
// secret is set, as the capture sinks and alert receivers sign), Splunk's HTTP Event Collector, and Elasticsearch's
// or OpenSearch's `_bulk` API (`create` with the event id as `_id`, so a resend stores nothing twice; items the
// cluster refused for load retried one by one). 429 and 503 answers wait as long as `Retry-After` asks.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { hostname } from 'node:os';
import { standardWebhooksKey, standardWebhooksSignature } from '../sinks/sign.ts';
import { type Delivery, type Destination, DestinationError } from './types.ts';

export type HttpApi = 'webhook' | 'splunk-hec' | 'elasticsearch-bulk';

export interface HttpOptions {
  /** Names the destination in webhook ids. */
  name: string;
  url: string;
  api?: HttpApi;
  /** The events' format, for Splunk's sourcetype. */
  format?: string;
  secret?: string;
  token?: string;
  index?: string;
  headers?: Record<string, string>;
  tls?: { ca?: string; cert?: string; key?: string; serverName?: string };
  timeoutMs?: number;
  /** Elasticsearch: rounds of retrying refused items within one send before the batch fails. */
  itemRetries?: number;
  /** Wait between those rounds (doubled each round). */
  itemBackoffMs?: number;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Seconds of a Retry-After header (delta seconds or an HTTP date) as ms. */
function retryAfterMs(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

export class HttpDestination implements Destination {
  readonly #o: HttpOptions;
  readonly #url: URL;
  readonly #key: Buffer | undefined;
  readonly #tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string };

  constructor(o: HttpOptions) {
    this.#o = o;
    this.#url = new URL(o.url);
    if (o.api === 'elasticsearch-bulk' && !this.#url.pathname.endsWith('/_bulk'))
      this.#url.pathname = `${this.#url.pathname.replace(/\/$/, '')}/_bulk`;
    this.#key = o.secret ? standardWebhooksKey(o.secret) : undefined;
    const t = o.tls ?? {};
    this.#tls = {
      ca: t.ca ? readFileSync(t.ca) : undefined,
      cert: t.cert ? readFileSync(t.cert) : undefined,
      key: t.key ? readFileSync(t.key) : undefined,
      servername: t.serverName,
    };
  }

  #post(body: string, headers: Record<string, string>): Promise<Answer> {
    const u = this.#url;
    const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Answer>((resolve, reject) => {
      const req = request(
        u,
        {
          method: 'POST',
          headers: { ...this.#o.headers, ...headers, 'content-length': String(Buffer.byteLength(body)) },
          timeout: this.#o.timeoutMs ?? 10_000,
          ...(u.protocol === 'https:' ? this.#tls : {}),
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#o.timeoutMs ?? 10_000} ms`)));
      req.on('error', (err) => reject(new DestinationError(`POST ${u.host}: ${err.message}`, undefined, err)));
      req.end(body);
    });
  }

  /** A 2xx, or a DestinationError naming the answer (with the wait a 429/503 asked for). */
  #check(a: Answer): void {
    if (a.status >= 200 && a.status < 300) return;
    throw new DestinationError(
      `${this.#url.host} answered ${a.status}: ${a.text.slice(0, 200)}`,
      a.status === 429 || a.status === 503 ? retryAfterMs(a.headers['retry-after']) : undefined,
    );
  }

  async send(batch: Delivery[]): Promise<void> {
    switch (this.#o.api ?? 'webhook') {
      case 'webhook':
        return this.#webhook(batch);
      case 'splunk-hec':
        return this.#splunk(batch);
      case 'elasticsearch-bulk':
        return this.#bulk(batch);
    }
  }

  async #webhook(batch: Delivery[]): Promise<void> {
    const body = JSON.stringify(batch.map((d) => d.body));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#key) {
      // the same id for the same batch sent again: a receiver can drop the repeat
      const id = `vigil-${this.#o.name}-${batch[0]!.position}-${batch[batch.length - 1]!.position}`;
      const ts = Math.floor(Date.now() / 1000);
      headers['webhook-id'] = id;
      headers['webhook-timestamp'] = String(ts);
      headers['webhook-signature'] = standardWebhooksSignature(this.#key, id, ts, body);
    }
    this.#check(await this.#post(body, headers));
  }

  /** HEC's event endpoint takes JSON objects one after another, each with its `event` and `time` (epoch seconds). */
  async #splunk(batch: Delivery[]): Promise<void> {
    const host = hostname();
    const body = batch
      .map((d) =>
        JSON.stringify({
          time: Date.parse(d.event.requestReceivedTimestamp) / 1000,
          host,
          source: 'vigil',
          sourcetype: `vigil:audit:${this.#o.format ?? 'kubernetes'}`,
          ...(this.#o.index ? { index: this.#o.index } : {}),
          event: d.body,
        }),
      )
      .join('\n');
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#o.token) headers.authorization = `Splunk ${this.#o.token}`;
    this.#check(await this.#post(body, headers));
  }

  async #bulk(batch: Delivery[]): Promise<void> {
    const index = this.#o.index ?? 'vigil-audit';
    const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
    if (this.#o.token) headers.authorization = `ApiKey ${this.#o.token}`;
    let pending = batch;
    let wait = this.#o.itemBackoffMs ?? 500;
    for (let round = 0; ; round++) {
      const body = pending
        .map((d) => {
          const doc = '@timestamp' in d.body ? d.body : { '@timestamp': d.event.requestReceivedTimestamp, ...d.body };
          return `${JSON.stringify({ create: { _index: index, _id: d.event.id } })}\n${JSON.stringify(doc)}\n`;
        })
        .join('');
      const a = await this.#post(body, headers);
      this.#check(a);
      const answer = JSON.parse(a.text) as {
        errors?: boolean;
        items?: { create?: { status: number; error?: unknown } }[];
      };
      if (!answer.errors) return;
      const items = answer.items ?? [];
      if (items.length !== pending.length)
        throw new DestinationError(`_bulk answered ${items.length} items for ${pending.length}`);
      // 409: stored by an earlier send (at least once, stored once); 429 and 5xx: refused for load, sent again;
      // anything else (a mapping error) the cluster will never take: not sent again, reported
      const again: Delivery[] = [];
      const refused: string[] = [];
      items.forEach((it, i) => {
        const status = it.create?.status ?? 0;
        if (status === 429 || status >= 500) again.push(pending[i]!);
        else if (status >= 300 && status !== 409)
          refused.push(`${pending[i]!.event.id}: ${status} ${JSON.stringify(it.create?.error).slice(0, 200)}`);
      });
      if (refused.length > 0) this.onRefused?.(refused);
      if (again.length === 0) return;
      if (round >= (this.#o.itemRetries ?? 5))
        throw new DestinationError(`_bulk: ${again.length} items still refused after ${round + 1} rounds`);
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 10_000);
      pending = again;
    }
  }

  /** Items Elasticsearch refused for good (each `id: status error`); the forwarder logs them. */
  onRefused?: (items: string[]) => void;

  async close(): Promise<void> {}
}
