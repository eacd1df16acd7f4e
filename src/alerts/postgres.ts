// The shared alert store: alerts and their pending deliveries in PostgreSQL, in the events' schema, so that several
// collectors raise each event's alert once (unique `key`) and never send one delivery twice (claims take rows with
// FOR UPDATE SKIP LOCKED and lease them).
import pg from 'pg';
import { checkSchemaName, ident, migrate } from '../store/postgres/migrations.ts';
import { type AlertRow, insertValues, toAlert } from './row.ts';
import type { Alert, AlertQuery, AlertRecord, AlertStore, Delivery } from './types.ts';

export interface PostgresAlertStoreOptions {
  url: string;
  /** The events' schema (the alert tables are one of its migrations). Default `vigil`. */
  schema?: string;
  /** Connections in the pool. Default 2: alerts are few. */
  poolSize?: number;
  applicationName?: string;
}

const ALERT_COLUMNS =
  'a.id, a.created_at, a.rule, a.priority, a.message, a.event_id, a.audit_id, a.workspace, a.namespace, a.labels, ' +
  'a.annotations, a.fingerprint, a.grouped_with, a.repeats';

/** Opens the alert store in `schema` of the database at `url`, migrating it first (under the migration lock). */
export async function openPostgresAlertStore(opts: PostgresAlertStoreOptions): Promise<AlertStore> {
  const schema = opts.schema ?? 'vigil';
  checkSchemaName(schema);
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 2,
    application_name: opts.applicationName ?? 'vigil',
    options: `-c search_path=${ident(schema)}`,
  });
  // An idle connection whose backend dies is dropped by the pool; without a listener it would crash the process.
  pool.on('error', () => {});
  let closed = false;

  async function tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (closed) throw new Error('the alert store is closed');
    const c = await pool.connect();
    const noop = () => {};
    c.on('error', noop);
    let broken = false;
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw err;
    } finally {
      c.off('error', noop);
      c.release(broken);
    }
  }

  try {
    const c = await pool.connect();
    try {
      await migrate(c, schema);
    } finally {
      c.release();
    }
  } catch (err) {
    await pool.end();
    throw err;
  }

  return {
    async add(records: AlertRecord[], receivers: string[], groupWindowMs: number): Promise<Alert[]> {
      if (records.length === 0) return [];
      return tx(async (c) => {
        // Grouping reads then writes: alerts of one fingerprint are added one transaction at a time across
        // collectors, so two of them never both become the group's leader.
        const fps = [...new Set(records.map((r) => r.fingerprint))].sort();
        await c.query('SELECT pg_advisory_xact_lock(hashtextextended(f, 0)) FROM unnest($1::text[]) AS f ORDER BY f', [
          fps.map((f) => `vigil alert:${f}`),
        ]);
        const added: Alert[] = [];
        for (const r of records) {
          const ins = await c.query<AlertRow>(
            `INSERT INTO alerts (key, created_at, rule, priority, message, event_id, audit_id, workspace, namespace,
               labels, annotations, fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (key) DO NOTHING RETURNING *`,
            insertValues(r),
          );
          const row = ins.rows[0];
          if (!row) continue;
          const prior = await c.query<{ id: string }>(
            `SELECT id FROM alerts WHERE fingerprint = $1 AND grouped_with IS NULL AND created_at >= $2 AND id <> $3
             ORDER BY created_at DESC LIMIT 1`,
            [r.fingerprint, r.createdAt - groupWindowMs, row.id],
          );
          const leader = prior.rows[0];
          if (leader) {
            await c.query('UPDATE alerts SET grouped_with = $1 WHERE id = $2', [leader.id, row.id]);
            await c.query('UPDATE alerts SET repeats = repeats + 1 WHERE id = $1', [leader.id]);
            row.grouped_with = leader.id;
          } else if (receivers.length > 0) {
            await c.query(
              'INSERT INTO alert_deliveries (alert_id, receiver, next_at) SELECT $1, r, $2 FROM unnest($3::text[]) AS r',
              [row.id, r.createdAt, receivers],
            );
          }
          added.push(toAlert(row));
        }
        return added;
      });
    },

    async claimDue(now: number, limit: number, leaseMs: number): Promise<Delivery[]> {
      return tx(async (c) => {
        // SKIP LOCKED: a delivery another dispatcher is claiming right now is neither waited for nor taken.
        const r = await c.query<AlertRow & { delivery_id: string; receiver: string; attempts: number }>(
          `WITH due AS (
             SELECT id FROM alert_deliveries WHERE next_at <= $1 AND lease_until <= $1
             ORDER BY next_at, id LIMIT $2 FOR UPDATE SKIP LOCKED),
           leased AS (
             UPDATE alert_deliveries d SET lease_until = $3 FROM due WHERE d.id = due.id
             RETURNING d.id, d.alert_id, d.receiver, d.attempts, d.next_at)
           SELECT l.id AS delivery_id, l.receiver, l.attempts, ${ALERT_COLUMNS}
           FROM leased l JOIN alerts a ON a.id = l.alert_id ORDER BY l.next_at, l.id`,
          [now, limit, now + leaseMs],
        );
        return r.rows.map((row) => ({
          id: String(row.delivery_id),
          receiver: row.receiver,
          attempts: row.attempts,
          alert: toAlert(row),
        }));
      });
    },

    async delivered(ids: string[]): Promise<void> {
      if (ids.length === 0) return;
      await tx((c) => c.query('DELETE FROM alert_deliveries WHERE id = ANY($1::bigint[])', [ids]));
    },

    async failed(id: string, nextAttemptAt: number, error: string): Promise<void> {
      await tx((c) =>
        c.query(
          'UPDATE alert_deliveries SET attempts = attempts + 1, next_at = $1, lease_until = 0, last_error = $2 WHERE id = $3',
          [nextAttemptAt, error.slice(0, 1000), id],
        ),
      );
    },

    async expire(before: number): Promise<number> {
      const r = await tx((c) =>
        c.query('DELETE FROM alert_deliveries WHERE alert_id IN (SELECT id FROM alerts WHERE created_at < $1)', [
          before,
        ]),
      );
      return r.rowCount ?? 0;
    },

    async nextDue(): Promise<number | undefined> {
      const r = await tx((c) =>
        c.query<{ t: string | null }>('SELECT MIN(GREATEST(next_at, lease_until)) AS t FROM alert_deliveries'),
      );
      const t = r.rows[0]?.t;
      return t === null || t === undefined ? undefined : Number(t);
    },

    async query(q: AlertQuery): Promise<{ total: number; items: Alert[] }> {
      const where: string[] = [];
      const params: unknown[] = [];
      const p = (v: unknown) => {
        params.push(v);
        return `$${params.length}`;
      };
      if (q.rule?.length) where.push(`rule = ANY(${p(q.rule)}::text[])`);
      if (q.priority?.length) where.push(`priority = ANY(${p(q.priority)}::text[])`);
      if (q.eventId !== undefined) where.push(`event_id = ${p(q.eventId)}`);
      if (q.start !== undefined) where.push(`created_at >= ${p(q.start)}`);
      if (q.end !== undefined) where.push(`created_at <= ${p(q.end)}`);
      if (q.scope) {
        // A tenant sees alerts about events of its workspaces or namespaces (within its clusters), nothing else.
        const parts: string[] = [];
        if (q.scope.workspaces.length) parts.push(`workspace = ANY(${p(q.scope.workspaces)}::text[])`);
        if (q.scope.namespaces.length) parts.push(`namespace = ANY(${p(q.scope.namespaces)}::text[])`);
        if (q.scope.clusters) {
          // by the alert's `cluster` label: an alert without one (raised before) is of no cluster the tenant has
          where.push(`labels ->> 'cluster' = ANY(${p(q.scope.clusters)}::text[])`);
          if (parts.length === 0) parts.push('true'); // a tenant of whole clusters
        }
        where.push(parts.length ? `(${parts.join(' OR ')})` : 'false');
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const order = q.sort === 'asc' ? 'ASC' : 'DESC';
      return tx(async (c) => {
        const total = Number((await c.query(`SELECT COUNT(*) AS n FROM alerts a ${clause}`, params)).rows[0].n);
        const rows = await c.query<AlertRow>(
          `SELECT ${ALERT_COLUMNS} FROM alerts a ${clause} ORDER BY created_at ${order}, id ${order}
           LIMIT ${p(q.size)} OFFSET ${p(q.from ?? 0)}`,
          params,
        );
        return { total, items: rows.rows.map(toAlert) };
      });
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
