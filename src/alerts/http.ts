// One POST of JSON to a receiver, with the outcome every receiver needs: success on 2xx, a ReceiverError
// (carrying Retry-After when given) otherwise.
import { ReceiverError } from './types.ts';

export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export async function postJSON(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new ReceiverError(`POST ${url}: ${(err as Error).message}`);
  }
  // Drain the body so the connection can be reused.
  const text = await res.text().catch(() => '');
  if (res.status < 200 || res.status > 299) {
    throw new ReceiverError(
      `POST ${url}: HTTP ${res.status} ${text.slice(0, 200)}`.trimEnd(),
      retryAfterMs(res.headers.get('retry-after')),
    );
  }
}
