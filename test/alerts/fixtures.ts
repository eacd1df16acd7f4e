import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AlertStore, openSqliteAlertStore } from '../../src/alerts/index.ts';
import type { StoredEvent } from '../../src/store/types.ts';

export function storedEvent(over: Partial<StoredEvent> = {}): StoredEvent {
  return {
    id: '42',
    level: 'Metadata',
    auditID: 'a1b2c3',
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/demo/pods',
    verb: 'create',
    user: { username: 'alice', groups: ['system:authenticated', 'dev'] },
    objectRef: { resource: 'pods', namespace: 'demo', name: 'web-1', apiVersion: 'v1' },
    responseStatus: { code: 201 },
    requestReceivedTimestamp: '2026-11-23T10:00:00.000000Z',
    stageTimestamp: '2026-11-23T10:00:00.100000Z',
    workspace: 'team-a',
    source: 'kubernetes',
    ...over,
  };
}

export function tempAlertStore(): { store: AlertStore; path: string; cleanup(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-alerts-'));
  const path = join(dir, 'vigil.db');
  const store = openSqliteAlertStore(path);
  return {
    store,
    path,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
