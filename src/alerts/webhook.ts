// A generic webhook receiver: alerts POSTed as JSON and signed with Standard Webhooks headers (HMAC-SHA256 over
// `id.timestamp.body`), so any receiver with a Standard Webhooks library can verify them.
import { createHmac } from 'node:crypto';
import { postJSON } from './http.ts';
import type { Alert, Receiver } from './types.ts';

export interface WebhookReceiverOptions {
  name: string;
  url: string;
  /** Shared secret: `whsec_<base64>` as Standard Webhooks prints them, or any other string used as raw bytes. */
  secret?: string;
  timeoutMs?: number;
  now?: () => number;
}

export function standardWebhookSignature(secret: string, id: string, timestampSec: number, body: string): string {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSec}.${body}`).digest('base64')}`;
}

export function webhookReceiver(opts: WebhookReceiverOptions): Receiver {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const now = opts.now ?? Date.now;
  return {
    name: opts.name,
    async send(alerts: Alert[]): Promise<void> {
      const body = JSON.stringify({ kind: 'AlertList', apiVersion: 'vigil.dev/v1', items: alerts });
      // The id is stable across retries of the same alerts, so the receiver can deduplicate.
      const id = `alerts_${alerts.map((a) => a.id).join('-')}`.slice(0, 200);
      const headers: Record<string, string> = { 'webhook-id': id };
      if (opts.secret) {
        const ts = Math.floor(now() / 1000);
        headers['webhook-timestamp'] = String(ts);
        headers['webhook-signature'] = standardWebhookSignature(opts.secret, id, ts, body);
      }
      await postJSON(opts.url, body, headers, timeoutMs);
    },
  };
}
