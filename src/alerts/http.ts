// One POST of JSON to a receiver, with the outcome every receiver needs: success on 2xx, a ReceiverError
// (carrying Retry-After when given) otherwise. node:http(s) rather than fetch so that a receiver can trust its
// own CA (a KubeSphere receiver's caBundle). Redirects are not followed (a 3xx is a failure).
import http from 'node:http';
import https from 'node:https';
import { maskQuery } from '../event/mask.ts';
import { parseRetryAfter } from '../sinks/util.ts';
import { ReceiverError } from './types.ts';

/** The start of the answer kept for the error message. */
const ERROR_TEXT = 200;

export interface PostOptions {
  timeoutMs: number;
  /** PEM certificates to trust for https, instead of the system's. */
  ca?: string;
}

/**
 * The receiver's URL as errors show it (they are logged, and kept with the pending delivery): a password in it, and
 * query parameters holding secrets (`?token=…`), masked as events are.
 */
function shown(target: URL): string {
  const u = new URL(target.href);
  if (u.password) u.password = '***';
  return maskQuery(u.href);
}

export function postJSON(url: string, body: string, headers: Record<string, string>, opts: PostOptions): Promise<void> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new ReceiverError('POST: the receiver URL is not a URL'));
  }
  const where = shown(target);
  const secure = target.protocol === 'https:';
  const payload = Buffer.from(body);
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      target,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers },
        ...(secure && opts.ca ? { ca: opts.ca } : {}),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        // Read the whole answer so the connection can be reused; keep only its start.
        res.on('data', (d: string) => {
          if (text.length < ERROR_TEXT) text += d;
        });
        res.on('end', () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          if (status >= 200 && status <= 299) return resolve();
          const retryAfter = res.headers['retry-after'];
          reject(
            new ReceiverError(
              `POST ${where}: HTTP ${status} ${text.slice(0, ERROR_TEXT)}`.trimEnd(),
              parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter),
            ),
          );
        });
        res.on('error', (err) => req.destroy(err));
      },
    );
    // The whole exchange, not only an idle socket, is bounded.
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(new ReceiverError(`POST ${where}: ${err.message}`));
    });
    req.end(payload);
  });
}
