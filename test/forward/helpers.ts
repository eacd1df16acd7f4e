// Shared by the forwarding tests: events to store, a store in a temporary directory, parsing what a syslog receiver
// got.
import path from 'node:path';
import type { ForwardConfig } from '../../src/config/index.ts';
import type { AuditEvent } from '../../src/event/model.ts';
import { openSqliteStore } from '../../src/store/index.ts';
import type { Store } from '../../src/store/types.ts';
import { tempDir } from '../helpers/temp.ts';

let n = 0;
/** A distinct event (fresh auditID); `at` epoch ms of its request. */
export function event(at = Date.now(), over: Partial<AuditEvent> = {}): AuditEvent {
  n++;
  const t = new Date(at).toISOString().replace('Z', '000Z');
  return {
    level: 'Metadata',
    auditID: `f0000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/ns${n % 3}/secrets/s${n}?fieldManager=kubectl`,
    verb: n % 2 ? 'create' : 'get',
    user: { username: `user-${n % 5}`, uid: `u${n % 5}`, groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.7', '192.168.1.1'],
    userAgent: 'kubectl/v1.30.0',
    objectRef: { resource: 'secrets', namespace: `ns${n % 3}`, name: `s${n}`, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: n % 7 ? 201 : 403 },
    requestReceivedTimestamp: t,
    stageTimestamp: t,
    source: 'kubernetes',
    ...over,
  };
}

export async function sqliteStore(): Promise<Store> {
  return openSqliteStore({ path: path.join(tempDir('vigil-forward-'), 'vigil.db') });
}

/** The `id` SD-PARAM of each RFC 5424 line (the stored event's id), in the order received. */
export function receivedIds(lines: string[]): string[] {
  return lines.map((l) => /\[vigil@32473 id="(\d+)"/.exec(l)?.[1] ?? `?${l.slice(0, 80)}`);
}

/** A syslog destination's configuration, validated as the loader would give it. */
export function syslogConfig(over: Partial<Extract<ForwardConfig, { type: 'syslog' }>>): ForwardConfig {
  return { type: 'syslog', name: 'siem', url: 'tcp://127.0.0.1:1', ...over } as ForwardConfig;
}

/** Each id once, in the order first seen; and whether that order is the stored (ascending) one. */
export function firstSeen(ids: string[]): { unique: string[]; ordered: boolean } {
  const seen = new Set<string>();
  const unique: string[] = [];
  for (const id of ids)
    if (!seen.has(id)) {
      seen.add(id);
      unique.push(id);
    }
  return { unique, ordered: unique.every((id, i) => i === 0 || Number(id) > Number(unique[i - 1])) };
}
