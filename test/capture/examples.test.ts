// The examples run as they would for a user (a child process on a free port) and print the events their
// policy (examples/policy.yaml, through the real policy checker) asks for.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AuditEvent } from '../../src/event/model.ts';

for (const name of ['http', 'express', 'fastify']) {
  test(`examples/${name}.ts audits the notes API by examples/policy.yaml`, async () => {
    const file = fileURLToPath(new URL(`../../examples/${name}.ts`, import.meta.url));
    const child = spawn(process.execPath, [file], {
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const exited = once(child, 'exit');
    try {
      const base = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "listening on" line; stderr: ${err}`)), 10_000);
        child.stderr.on('data', (d) => {
          err += d;
          const m = /listening on (\S+)/.exec(err);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}; stderr: ${err}`)));
      });
      const created = await fetch(`${base}/notes`, {
        method: 'POST',
        headers: { 'x-user': 'alice', 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'hello' }),
      });
      assert.equal(created.status, 201);
      assert.deepEqual(await created.json(), { id: '1', text: 'hello' });
      const read = await fetch(`${base}/notes/1`);
      assert.equal(read.status, 200);
      await read.text();
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent);
    assert.deepEqual(
      events.map((e) => [e.stage, e.verb, e.requestURI, e.level]),
      [
        ['ResponseComplete', 'create', '/notes', 'RequestResponse'],
        ['ResponseComplete', 'get', '/notes/1', 'Metadata'],
      ],
    );
    const [create, get] = events;
    assert.deepEqual(create.user, { username: 'alice', groups: ['notes:users'] });
    assert.deepEqual(create.objectRef, { resource: 'notes' });
    assert.deepEqual(create.requestObject, { text: 'hello' });
    assert.deepEqual(create.responseObject, { id: '1', text: 'hello' });
    assert.equal(create.responseStatus?.code, 201);
    assert.deepEqual(get.user, { username: 'system:anonymous', groups: ['system:unauthenticated'] });
    assert.deepEqual(get.objectRef, { resource: 'notes', name: '1' });
    assert.equal(get.responseObject, undefined);
  });
}
