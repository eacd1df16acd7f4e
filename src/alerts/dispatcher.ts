// Raising and delivering alerts. Every alert is stored with one pending delivery per receiver before `raise`
// resolves; the dispatcher then sends them, retrying with exponential backoff (or the receiver's Retry-After)
// until each receiver has accepted it or the alert expires. Pending deliveries survive restarts.
import type { Alert, AlertRecord, AlertStore, Delivery, Receiver } from './types.ts';
import { ReceiverError } from './types.ts';

export interface DispatcherOptions {
  store: AlertStore;
  receivers: Receiver[];
  /** Identical alerts (same rule and labels) within this window are grouped into the first: sent once. */
  groupWindowMs?: number;
  /** Deliveries of alerts older than this are given up (and counted as expired). */
  expireAfterMs?: number;
  backoff?: { initialMs: number; factor: number; maxMs: number };
  batchSize?: number;
  leaseMs?: number;
  now?: () => number;
  onError?: (message: string) => void;
  /**
   * Look for due deliveries at least this often even when this dispatcher knows of none: with a shared store,
   * deliveries another collector stored (and left pending when it stopped) are then sent from here. Unset: only
   * when this dispatcher raises or a known delivery is due.
   */
  pollMs?: number;
}

export interface DispatcherCounters {
  raised: number;
  grouped: number;
  delivered: number;
  failed: number;
  expired: number;
}

export interface AlertDispatcher {
  raise(records: AlertRecord[]): Promise<Alert[]>;
  /** Starts delivering, including whatever an earlier run left pending. */
  start(): void;
  /** Stops after the send in progress, if any. Pending deliveries stay stored. */
  stop(): Promise<void>;
  readonly counters: Readonly<DispatcherCounters>;
}

export function createAlertDispatcher(opts: DispatcherOptions): AlertDispatcher {
  const { store } = opts;
  const receivers = new Map(opts.receivers.map((r) => [r.name, r]));
  const names = [...receivers.keys()];
  const groupWindowMs = opts.groupWindowMs ?? 5 * 60_000;
  const expireAfterMs = opts.expireAfterMs ?? 24 * 3_600_000;
  const backoff = opts.backoff ?? { initialMs: 1_000, factor: 2, maxMs: 5 * 60_000 };
  const batchSize = opts.batchSize ?? 100;
  const leaseMs = opts.leaseMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const onError = opts.onError ?? (() => {});
  const counters: DispatcherCounters = { raised: 0, grouped: 0, delivered: 0, failed: 0, expired: 0 };

  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let pumping: Promise<void> | undefined;
  let again = false;

  function delay(attempts: number): number {
    const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** attempts);
    return base * (0.8 + Math.random() * 0.4);
  }

  async function sendTo(receiver: string, batch: Delivery[]): Promise<void> {
    const r = receivers.get(receiver);
    if (!r) {
      // A receiver removed from the configuration: keep the delivery until it expires, in case it comes back.
      for (const d of batch) await store.failed(d.id, now() + backoff.maxMs, `unknown receiver ${receiver}`);
      return;
    }
    try {
      await r.send(batch.map((d) => d.alert));
      await store.delivered(batch.map((d) => d.id));
      counters.delivered += batch.length;
    } catch (err) {
      const message = (err as Error).message;
      counters.failed += batch.length;
      onError(`alert receiver ${receiver}: ${message}`);
      const wait = err instanceof ReceiverError ? err.retryAfterMs : undefined;
      for (const d of batch) await store.failed(d.id, now() + (wait ?? delay(d.attempts)), message);
    }
  }

  async function pumpOnce(): Promise<boolean> {
    counters.expired += await store.expire(now() - expireAfterMs);
    const due = await store.claimDue(now(), batchSize, leaseMs);
    if (due.length === 0) return false;
    const byReceiver = new Map<string, Delivery[]>();
    for (const d of due) {
      const list = byReceiver.get(d.receiver);
      if (list) list.push(d);
      else byReceiver.set(d.receiver, [d]);
    }
    await Promise.all([...byReceiver].map(([name, batch]) => sendTo(name, batch)));
    return true;
  }

  async function pump(): Promise<void> {
    do {
      again = false;
      while (running && (await pumpOnce())) {}
    } while (running && again);
    if (!running) return;
    const next = await store.nextDue();
    const wait = next === undefined ? undefined : Math.max(0, next - now());
    if (opts.pollMs !== undefined) schedule(Math.min(wait ?? opts.pollMs, opts.pollMs));
    else if (wait !== undefined) schedule(wait);
  }

  function schedule(ms: number): void {
    if (!running) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(kick, Math.min(ms, 2 ** 31 - 1));
    timer.unref();
  }

  function kick(): void {
    if (!running) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = pump()
      .catch((err) => {
        onError(`alert dispatcher: ${(err as Error).message}`);
        schedule(backoff.initialMs);
      })
      .finally(() => {
        pumping = undefined;
      });
  }

  return {
    counters,
    async raise(records: AlertRecord[]): Promise<Alert[]> {
      if (records.length === 0) return [];
      const added = await store.add(records, names, groupWindowMs);
      counters.raised += added.length;
      counters.grouped += added.filter((a) => a.groupedWith !== undefined).length;
      kick();
      return added;
    },
    start(): void {
      running = true;
      kick();
    },
    async stop(): Promise<void> {
      running = false;
      if (timer) clearTimeout(timer);
      await pumping;
    },
  };
}
