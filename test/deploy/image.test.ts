// The image, for real: deploy/image/build.sh builds it from `npm pack`'s tarball (on a Node.js 24 base made from
// Debian's packages, as no image registry is reachable here), podman runs it with a vigil.yaml mounted, and one
// Kubernetes EventList batch is ingested and found. Without podman on the machine the test is skipped (.ci/run
// installs it).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { encodeEventList } from '../../src/event/index.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { tempDir } from '../helpers/temp.ts';
import { event } from '../server/fixtures.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILD = path.join(ROOT, 'deploy/image/build.sh');
const IMAGE = 'localhost/vigil:test';

function hasPodman(): boolean {
  try {
    execFileSync('podman', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

test('the image builds from the package, runs vigil serve as UID 10001 and ingests a batch', {
  skip: !hasPodman() && 'podman is not installed',
}, async () => {
  // The base (minutes, once per machine) and the image (npm install of the package's dependencies).
  await run('bash', [BUILD, '--local-base', '--tag', IMAGE], { cwd: ROOT, timeout: 30 * 60_000, maxBuffer: 64 << 20 });
  const flags = (await run('bash', [BUILD, '--run-flags', IMAGE])).stdout.split('\n').filter(Boolean);
  const inspect = JSON.parse((await run('podman', ['image', 'inspect', IMAGE])).stdout)[0];
  assert.equal(inspect.Config.User, '10001:10001');
  assert.ok(inspect.Healthcheck?.Test?.length, 'HEALTHCHECK kept (docker format)');
  assert.deepEqual(inspect.Config.Entrypoint, ['node', '/opt/vigil/bin/vigil.js', 'serve']);
  assert.ok(inspect.Config.Volumes && '/data' in inspect.Config.Volumes);

  const dir = tempDir('vigil-image-');
  writeFileSync(
    path.join(dir, 'vigil.yaml'),
    `listen: 0.0.0.0:8080
storage: { type: sqlite, path: /data/vigil.db }
retention: 36500d
rules: { enabled: false }
auth:
  tokens:
    - { name: test, token: image-test-token, role: admin }
`,
  );
  const port = await freePort();
  const name = `vigil-image-test-${process.pid}`;
  await run('podman', [
    'run',
    ...flags,
    '--detach',
    '--name',
    name,
    '--read-only',
    '--tmpfs',
    '/tmp',
    '--publish',
    `127.0.0.1:${port}:8080`,
    '--volume',
    `${path.join(dir, 'vigil.yaml')}:/etc/vigil/vigil.yaml:ro`,
    IMAGE,
  ]);
  try {
    const url = `http://127.0.0.1:${port}`;
    const auth = { authorization: 'Bearer image-test-token' };
    await waitFor('the collector in the container to be ready', async () => (await fetch(`${url}/readyz`)).ok, 120_000);
    const res = await fetch(`${url}/audit/webhook/event`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(encodeEventList([event({ auditID: 'image-1' }), event({ auditID: 'image-2' })])),
    });
    assert.equal(res.status, 200, await res.text());
    const found = (await (await fetch(`${url}/api/v1/events`, { headers: auth })).json()) as {
      items: { auditID: string }[];
    };
    assert.deepEqual(found.items.map((e) => e.auditID).sort(), ['image-1', 'image-2']);
    const uid = (await run('podman', ['exec', name, 'id', '-u'])).stdout.trim();
    assert.equal(uid, '10001');
  } finally {
    await run('podman', ['rm', '--force', '--time', '5', name]).catch(() => {});
  }
});
