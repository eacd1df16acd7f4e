// The embedded alert store: alerts and their pending deliveries in SQLite, next to the events.
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { type AlertRow, insertedAlert, insertValues, toAlert } from './row.ts';
import type { Alert, AlertQuery, AlertRecord, AlertStore, Delivery } from './types.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  rule TEXT NOT NULL,
  priority TEXT NOT NULL,
  message TEXT NOT NULL,
  event_id TEXT NOT NULL,
  audit_id TEXT NOT NULL,
  workspace TEXT,
  namespace TEXT,
  labels TEXT NOT NULL,
  annotations TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  grouped_with INTEGER,
  repeats INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_created ON alerts(created_at);
CREATE INDEX IF NOT EXISTS alerts_fingerprint ON alerts(fingerprint, created_at);
CREATE INDEX IF NOT EXISTS alerts_event ON alerts(event_id);
-- The group leader lookup of every new alert: without the partial index it walks past every already grouped alert
-- of the same fingerprint in the window (quadratic under a burst of repeats, a quarter of ingest time in the bench).
CREATE INDEX IF NOT EXISTS alerts_leader ON alerts(fingerprint, created_at) WHERE grouped_with IS NULL;
CREATE TABLE IF NOT EXISTS alert_deliveries (
  id INTEGER PRIMARY KEY,
  alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  receiver TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  lease_until INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries(next_at);
`;

/**
 * Where the alerts of the event store at `eventsPath` live: a file of their own beside it (`vigil.db` →
 * `vigil-alerts.db`). In the events' file, every alert write waited — on the event loop — for the store's writer
 * thread to finish its transaction, stalling ingest whenever events raised alerts.
 */
export function alertsPathFor(eventsPath: string): string {
  if (eventsPath === ':memory:' || eventsPath === '') return eventsPath;
  return eventsPath.endsWith('.db') ? `${eventsPath.slice(0, -3)}-alerts.db` : `${eventsPath}-alerts`;
}

/**
 * Opens (creating if needed) the alert tables in the SQLite database at `path`. `moveFrom`: a database that may
 * still hold alert tables (the events' file, where earlier versions kept them): their rows move here once.
 */
export function openSqliteAlertStore(path: string, moveFrom?: string): AlertStore {
  const db = new DatabaseSync(path);
  db.exec(
    'PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;',
  );
  db.exec(SCHEMA);
  if (moveFrom !== undefined && moveFrom !== path) moveAlerts(db, moveFrom);
  const insert = db.prepare(
    `INSERT INTO alerts (key, created_at, rule, priority, message, event_id, audit_id, workspace, namespace, labels,
       annotations, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING`,
  );
  const leader = db.prepare(
    'SELECT id FROM alerts WHERE fingerprint = ? AND grouped_with IS NULL AND created_at >= ? AND id <> ? ORDER BY created_at DESC LIMIT 1',
  );
  const group = db.prepare('UPDATE alerts SET grouped_with = ? WHERE id = ?');
  const repeat = db.prepare('UPDATE alerts SET repeats = repeats + 1 WHERE id = ?');
  const addDelivery = db.prepare('INSERT INTO alert_deliveries (alert_id, receiver, next_at) VALUES (?, ?, ?)');
  const due = db.prepare(
    `SELECT d.id AS delivery_id, d.receiver, d.attempts, a.* FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
     WHERE d.next_at <= ? AND d.lease_until <= ? ORDER BY d.next_at, d.id LIMIT ?`,
  );
  const lease = db.prepare('UPDATE alert_deliveries SET lease_until = ? WHERE id = ?');
  const done = db.prepare('DELETE FROM alert_deliveries WHERE id = ?');
  const fail = db.prepare(
    'UPDATE alert_deliveries SET attempts = attempts + 1, next_at = ?, lease_until = 0, last_error = ? WHERE id = ?',
  );
  const expire = db.prepare(
    'DELETE FROM alert_deliveries WHERE alert_id IN (SELECT id FROM alerts WHERE created_at < ?)',
  );
  const nextDue = db.prepare('SELECT MIN(MAX(next_at, lease_until)) AS t FROM alert_deliveries');

  function tx<T>(fn: () => T): T {
    db.exec('BEGIN IMMEDIATE');
    try {
      const r = fn();
      db.exec('COMMIT');
      return r;
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  }

  return {
    async add(records: AlertRecord[], receivers: string[], groupWindowMs: number): Promise<Alert[]> {
      return tx(() => {
        const added: Alert[] = [];
        for (const r of records) {
          const res = insert.run(...insertValues(r));
          if (res.changes === 0) continue;
          const id = Number(res.lastInsertRowid);
          const prior = leader.get(r.fingerprint, r.createdAt - groupWindowMs, id) as { id: number } | undefined;
          if (prior) {
            group.run(prior.id, id);
            repeat.run(prior.id);
          } else {
            for (const name of receivers) addDelivery.run(id, name, r.createdAt);
          }
          added.push(insertedAlert(r, id, prior?.id));
        }
        return added;
      });
    },

    async claimDue(now: number, limit: number, leaseMs: number): Promise<Delivery[]> {
      return tx(() => {
        const rows = due.all(now, now, limit) as unknown as (AlertRow & {
          delivery_id: number;
          receiver: string;
          attempts: number;
        })[];
        for (const r of rows) lease.run(now + leaseMs, r.delivery_id);
        return rows.map((r) => ({
          id: String(r.delivery_id),
          receiver: r.receiver,
          attempts: r.attempts,
          alert: toAlert(r),
        }));
      });
    },

    async delivered(ids: string[]): Promise<void> {
      tx(() => {
        for (const id of ids) done.run(Number(id));
      });
    },

    async failed(id: string, nextAttemptAt: number, error: string): Promise<void> {
      fail.run(nextAttemptAt, error.slice(0, 1000), Number(id));
    },

    async expire(before: number): Promise<number> {
      return Number(expire.run(before).changes);
    },

    async nextDue(): Promise<number | undefined> {
      const row = nextDue.get() as { t: number | null } | undefined;
      return row?.t ?? undefined;
    },

    async query(q: AlertQuery): Promise<{ total: number; items: Alert[] }> {
      const where: string[] = [];
      const params: SQLInputValue[] = [];
      const inList = (col: string, values: string[]) => {
        where.push(`${col} IN (${values.map(() => '?').join(', ')})`);
        params.push(...values);
      };
      if (q.rule?.length) inList('rule', q.rule);
      if (q.priority?.length) inList('priority', q.priority);
      if (q.eventId !== undefined) {
        where.push('event_id = ?');
        params.push(q.eventId);
      }
      if (q.start !== undefined) {
        where.push('created_at >= ?');
        params.push(q.start);
      }
      if (q.end !== undefined) {
        where.push('created_at <= ?');
        params.push(q.end);
      }
      if (q.scope) {
        // A tenant sees alerts about events of its workspaces or namespaces (within its clusters), nothing else.
        const ws = q.scope.workspaces;
        const ns = q.scope.namespaces;
        const parts: string[] = [];
        if (ws.length) {
          parts.push(`workspace IN (${ws.map(() => '?').join(', ')})`);
          params.push(...ws);
        }
        if (ns.length) {
          parts.push(`namespace IN (${ns.map(() => '?').join(', ')})`);
          params.push(...ns);
        }
        const clusters = q.scope.clusters;
        if (clusters) {
          // by the alert's `cluster` label: an alert without one (raised before) is of no cluster the tenant has
          where.push(`json_extract(labels, '$.cluster') IN (${clusters.map(() => '?').join(', ') || 'NULL'})`);
          params.push(...clusters);
          if (!ws.length && !ns.length) parts.push('1'); // a tenant of whole clusters
        }
        where.push(parts.length ? `(${parts.join(' OR ')})` : '0');
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const order = q.sort === 'asc' ? 'ASC' : 'DESC';
      const total = (db.prepare(`SELECT COUNT(*) AS n FROM alerts ${clause}`).get(...params) as { n: number }).n;
      const rows = (
        db.prepare(
          `SELECT * FROM alerts ${clause} ORDER BY created_at ${order}, id ${order} LIMIT ? OFFSET ?`,
        ) as StatementSync
      ).all(...params, q.size, q.from ?? 0) as unknown as AlertRow[];
      return { total, items: rows.map(toAlert) };
    },

    async close(): Promise<void> {
      if (db.isOpen) db.close();
    },
  };
}

/** Moves the alert tables of the database at `from` (if it has them) into `db`, in one transaction on each. */
function moveAlerts(db: DatabaseSync, from: string): void {
  db.prepare('ATTACH DATABASE ? AS old').run(from);
  try {
    const has = db.prepare(`SELECT 1 FROM old.sqlite_schema WHERE type = 'table' AND name = 'alerts'`).get();
    if (!has) return;
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(`INSERT INTO main.alerts SELECT * FROM old.alerts WHERE key NOT IN (SELECT key FROM main.alerts);
        INSERT INTO main.alert_deliveries SELECT * FROM old.alert_deliveries
          WHERE alert_id IN (SELECT id FROM main.alerts) AND id NOT IN (SELECT id FROM main.alert_deliveries);
        DROP TABLE old.alert_deliveries; DROP TABLE old.alerts;`);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  } finally {
    db.exec('DETACH DATABASE old');
  }
}
