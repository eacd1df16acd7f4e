// The console's only way to the collector: its public HTTP API, with the bearer token the user signed in with.

/** An event as the query API returns it (Kubernetes audit.k8s.io/v1 shape plus KubeSphere's fields and Vigil's id). */
export interface AuditEvent {
  id: string;
  auditID: string;
  level?: string;
  stage?: string;
  requestURI?: string;
  verb?: string;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  impersonatedUser?: { username?: string; groups?: string[] };
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: {
    resource?: string;
    namespace?: string;
    name?: string;
    subresource?: string;
    apiGroup?: string;
    apiVersion?: string;
    uid?: string;
  };
  responseStatus?: { code?: number; status?: string; message?: string; reason?: string };
  requestObject?: unknown;
  responseObject?: unknown;
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
  annotations?: Record<string, string>;
  workspace?: string;
  cluster?: string;
  devops?: string;
  source?: string;
}

export interface EventPage {
  total: number;
  items: AuditEvent[];
  next?: string;
}

export interface Histogram {
  total: number;
  buckets: { time: number; count: number }[];
}

export interface Stats {
  total: number;
  top: { key: string; count: number }[];
}

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

const TOKEN_KEY = 'vigil.token';

export function getToken(): string {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(token: string): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

function headers(): Record<string, string> {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}`, accept: 'application/json' } : { accept: 'application/json' };
}

async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { message?: string; error?: string };
    message = body.message ?? body.error ?? message;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, message);
}

export async function getJSON<T>(path: string, params?: URLSearchParams, signal?: AbortSignal): Promise<T> {
  const qs = params?.toString();
  const res = await fetch(qs ? `${path}?${qs}` : path, { headers: headers(), signal });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export function listEvents(params: URLSearchParams, signal?: AbortSignal): Promise<EventPage> {
  return getJSON<EventPage>('/api/v1/events', params, signal);
}

export function getEvent(id: string, signal?: AbortSignal): Promise<AuditEvent> {
  return getJSON<AuditEvent>(`/api/v1/events/${encodeURIComponent(id)}`, undefined, signal);
}

export function histogram(params: URLSearchParams, signal?: AbortSignal): Promise<Histogram> {
  return getJSON<Histogram>('/api/v1/events/histogram', params, signal);
}

export function stats(params: URLSearchParams, signal?: AbortSignal): Promise<Stats> {
  return getJSON<Stats>('/api/v1/events/stats', params, signal);
}

/**
 * Follows `/api/v1/events/stream` (Server-Sent Events). EventSource cannot send an Authorization header, so the
 * stream is read with fetch and parsed here. Resolves when the server ends the stream; rejects on HTTP errors.
 * `resume.last` is the `id:` of the last event seen: sent back as `Last-Event-ID` (and `since_id`) on the next
 * connection, so the server replays what was stored meanwhile.
 */
export async function followStream(
  params: URLSearchParams,
  onEvent: (event: AuditEvent) => void,
  signal: AbortSignal,
  onOpen?: () => void,
  resume: { last?: string } = {},
): Promise<void> {
  const p = new URLSearchParams(params);
  if (resume.last) p.set('since_id', resume.last);
  const res = await fetch(`/api/v1/events/stream?${p}`, {
    headers: { ...headers(), accept: 'text/event-stream', ...(resume.last ? { 'last-event-id': resume.last } : {}) },
    signal,
  });
  if (!res.ok || !res.body) throw await failure(res);
  onOpen?.();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n?/g, '\n');
    for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let type = 'message';
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
        else if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('id:')) id = line.slice(3).trim();
      }
      if (id) resume.last = id;
      if (type !== 'message' || data.length === 0) continue;
      try {
        onEvent(JSON.parse(data.join('\n')) as AuditEvent);
      } catch {
        // a malformed frame is skipped; the next one may be fine
      }
    }
  }
}

/** An alert as the collector keeps it (src/alerts/types.ts `Alert`), the fields the console shows. */
export interface Alert {
  id: string;
  /** Epoch ms. */
  createdAt?: number;
  rule?: string;
  priority?: string;
  message?: string;
  eventId?: string;
  auditID?: string;
  workspace?: string;
  namespace?: string;
  repeats?: number;
}

export interface AlertPage {
  items: Alert[];
  /** How many alerts match in all (the API pages with `from` and `size`). */
  total: number;
  /** False when the server raises no alerts at all (its rules are turned off). */
  alerting?: boolean;
}

/** A page of alerts, or `undefined` when the server has no alerts API (404). */
export async function listAlerts(params: URLSearchParams, signal?: AbortSignal): Promise<AlertPage | undefined> {
  try {
    const body = await getJSON<{ items?: Alert[]; alerts?: Alert[]; total?: number; alerting?: boolean } | Alert[]>(
      '/api/v1/alerts',
      params,
      signal,
    );
    const items = Array.isArray(body) ? body : (body.items ?? body.alerts ?? []);
    if (Array.isArray(body)) return { items, total: items.length };
    return { items, total: body.total || items.length, ...(body.alerting === false ? { alerting: false } : {}) };
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 501)) return undefined;
    throw err;
  }
}
