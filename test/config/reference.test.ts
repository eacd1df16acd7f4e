// docs/collector.md's configuration reference names exactly the keys the schema accepts, so the two cannot drift.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { keyPaths, SCHEMA } from '../../src/config/index.ts';

test('the configuration reference documents every key the schema accepts, and no other', () => {
  const doc = readFileSync(path.join(import.meta.dirname, '../../docs/collector.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Configuration reference'));
  const reference = section.slice(0, section.indexOf('\n## ', 1));
  const documented = new Set([...reference.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!));
  const accepted = new Set(keyPaths(SCHEMA));
  assert.ok(accepted.size > 100, `${accepted.size} keys`);
  assert.deepEqual(
    {
      undocumented: [...accepted].filter((k) => !documented.has(k)),
      unknown: [...documented].filter((k) => !accepted.has(k)),
    },
    { undocumented: [], unknown: [] },
  );
});
