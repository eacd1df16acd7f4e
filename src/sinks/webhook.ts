// The webhook transport: one POST per batch, a 2xx is success, anything else a DeliveryError that says
// whether retrying can help (network errors, timeouts, 429, 5xx) and carries the server's Retry-After.
// Bodies: a Kubernetes audit.k8s.io/v1 EventList, or an OpenFaaS delivery (a JSON array with
// X-Openfaas-Event / -Delivery / -Signature-256). The delivery id (and Standard Webhooks' webhook-id)
// stays the same across retries of a batch; the Standard Webhooks timestamp and signature are fresh
// for each attempt. Redirects are not followed (a 3xx is a failure).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AuditEvent } from '../event/model.ts';
import { type Encoders, toJSON } from './encoders.ts';
import type { WebhookTarget } from './kubeconfig.ts';
import type { SinkMetrics } from './metrics.ts';
import { hmacSha256Hex, standardWebhooksKey, standardWebhooksSignature } from './sign.ts';
import { DeliveryError, type Sink, SinkClosedError, type WebhookBody } from './types.ts';
import { parseRetryAfter } from './util.ts';

export interface WebhookTransportOptions {
  target: WebhookTarget;
  body?: WebhookBody;
  /** OpenFaaS/GitHub HMAC secret. */
  secret?: string;
  /** `whsec_…` Standard Webhooks secret. */
  standardWebhooksSecret?: string;
  timeoutMs?: number;
  encoders: Encoders;
  metrics?: SinkMetrics;
}

export class WebhookTransport implements Sink {
  private readonly url: URL;
  private readonly o: WebhookTransportOptions;
  private readonly agent: http.Agent;
  private readonly swKey: Buffer | undefined;
  private readonly timeoutMs: number;
  /** Delivery ids per batch array: retries pass the same array, so they reuse its id. */
  private readonly ids = new WeakMap<AuditEvent[], string>();
  private readonly abort = new AbortController();

  constructor(o: WebhookTransportOptions) {
    this.o = o;
    this.url = new URL(o.target.url);
    const t = o.target;
    this.agent =
      this.url.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            ca: t.ca,
            cert: t.cert,
            key: t.key,
            rejectUnauthorized: !t.insecureSkipTLSVerify,
          })
        : new http.Agent({ keepAlive: true });
    this.swKey = o.standardWebhooksSecret ? standardWebhooksKey(o.standardWebhooksSecret) : undefined;
    this.timeoutMs = o.timeoutMs ?? 30_000;
  }

  private encode(events: AuditEvent[]): string {
    if (this.o.body === 'openfaas')
      return `[${events.map((e) => toJSON(this.o.encoders.encodeOpenFaaSEvent(e))).join(',')}]`;
    return toJSON(this.o.encoders.encodeEventList(events));
  }

  async write(events: AuditEvent[]): Promise<void> {
    if (this.abort.signal.aborted) throw new SinkClosedError('webhook sink');
    let id = this.ids.get(events);
    if (!id) {
      id = randomUUID();
      this.ids.set(events, id);
    }
    const body = Buffer.from(this.encode(events));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'content-length': String(body.length),
    };
    if (this.o.target.token) headers.authorization = `Bearer ${this.o.target.token}`;
    if (this.o.body === 'openfaas') {
      headers['x-openfaas-event'] = 'api_access';
      headers['x-openfaas-delivery'] = id;
    }
    if (this.o.secret) headers['x-openfaas-signature-256'] = hmacSha256Hex(this.o.secret, body);
    if (this.swKey) {
      const ts = Math.floor(Date.now() / 1000);
      const swId = `msg_${id}`;
      headers['webhook-id'] = swId;
      headers['webhook-timestamp'] = String(ts);
      headers['webhook-signature'] = standardWebhooksSignature(this.swKey, swId, ts, body);
    }
    const started = performance.now();
    try {
      await this.post(body, headers);
      this.o.metrics?.delivered(events.length);
    } catch (err) {
      this.o.metrics?.error();
      throw err;
    } finally {
      this.o.metrics?.batchSeconds((performance.now() - started) / 1000);
    }
  }

  private post(body: Buffer, headers: Record<string, string>): Promise<void> {
    const mod = this.url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        this.url,
        { method: 'POST', headers, agent: this.agent, timeout: this.timeoutMs, signal: this.abort.signal },
        (res) => {
          // The body is ignored (kube-apiserver does the same) but must be read to free the socket.
          res.resume();
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve();
            const retryAfter = header(res.headers['retry-after']);
            reject(
              new DeliveryError(`webhook ${this.url.origin}${this.url.pathname} answered ${status}`, {
                status,
                retryable: status === 429 || status >= 500 || status === 408,
                retryAfterMs: retryAfter === undefined ? undefined : parseRetryAfter(retryAfter),
              }),
            );
          });
          res.on('error', (err) =>
            reject(new DeliveryError(`webhook response: ${err.message}`, { retryable: true, cause: err })),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timed out after ${this.timeoutMs} ms`)));
      req.on('error', (err) =>
        reject(new DeliveryError(`webhook ${this.url.origin}: ${err.message}`, { retryable: true, cause: err })),
      );
      req.end(body);
    });
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.abort.abort();
    this.agent.destroy();
  }
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
