// One behaviour suite run against every adapter (node:http, Express, Fastify), each serving the same tiny API:
//   GET  /api/v1/namespaces/:ns/pods            → 200 PodList (items carry managedFields)
//   GET  /api/v1/namespaces/:ns/pods/:name      → 200 Pod
//   POST /api/v1/namespaces/:ns/pods            → 201, the JSON body echoed
//   GET  /api/v1/namespaces/:ns/secrets/:name   → 404 Status
//   GET  /api/v1/namespaces/:ns/panics          → the handler throws Error('boom')
//   GET  /api/v1/pods?watch=true                → streamed: write one line, then end with another
//   GET  /sse                                   → text/event-stream, one event
//   GET  /hang                                  → never answers
//   GET  /system/functions, /system/function/:n → 200 JSON (OpenFaaS-like, audited through a route map)
//   *    /v2/lbaas/…                            → 200 JSON echo (Octavia-like, audited with the audit map)
//   GET  /healthz                               → 200 "ok"
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type AuditorOptions, loadAuditMap } from '../../src/capture/index.ts';
import { type AuditEvent, encodeCadf } from '../../src/event/index.ts';
import { byNamespace, CollectingSink, policyOf } from './helpers.ts';

export interface Started {
  base: string;
  close(): Promise<void>;
}
export type Start = (options: AuditorOptions) => Promise<Started>;

const octavia = loadAuditMap(fileURLToPath(new URL('../fixtures/octavia/octavia_api_audit_map.conf', import.meta.url)));

const identify: AuditorOptions['identify'] = (req) => {
  const u = req.headers['x-user'];
  if (u === undefined) return undefined;
  if (u === '!') return null;
  if (u === 'throw') throw new Error('identify broke');
  return { username: String(u), uid: '42', groups: ['dev'], extra: { project_id: ['p-1'] } };
};

function baseOptions(sink: CollectingSink, more: Partial<AuditorOptions> = {}): AuditorOptions {
  return {
    policy: byNamespace,
    sink,
    identify,
    trustedProxies: ['127.0.0.1/8', '::1'],
    routes: [
      {
        method: 'GET',
        pattern: '/system/functions',
        resource: 'functions',
        namespace: '?namespace',
        action: 'Function:List',
      },
      {
        method: 'GET',
        pattern: '/system/function/:name',
        resource: 'functions',
        name: ':name',
        action: 'Function:Get',
      },
    ],
    auditMap: octavia,
    serviceName: 'octavia',
    onError: () => {},
    ...more,
  };
}

function stages(events: AuditEvent[]): string[] {
  return events.map((e) => e.stage);
}

export function captureSuite(adapter: string, start: Start): void {
  async function withServer(
    more: Partial<AuditorOptions>,
    fn: (base: string, sink: CollectingSink) => Promise<void>,
  ): Promise<void> {
    const sink = new CollectingSink();
    const server = await start(baseOptions(sink, more));
    try {
      await fn(server.base, sink);
    } finally {
      await server.close();
    }
  }

  test(`${adapter}: a list at Metadata: two stages, verb, objectRef, user, Audit-ID, no bodies`, () =>
    withServer({}, async (base, sink) => {
      const res = await fetch(`${base}/api/v1/namespaces/default/pods?limit=5`, {
        headers: { 'x-user': 'alice', 'user-agent': 'test-agent/1' },
      });
      assert.equal(res.status, 200);
      await res.text();
      const id = res.headers.get('audit-id');
      assert.match(id ?? '', /^[0-9a-f-]{36}$/);
      const events = await sink.stages(id!);
      assert.deepEqual(stages(events), ['RequestReceived', 'ResponseComplete']);
      const [rr, rc] = events;
      assert.equal(rr.verb, 'list');
      assert.equal(rr.requestURI, '/api/v1/namespaces/default/pods?limit=5');
      assert.deepEqual(rr.objectRef, { resource: 'pods', namespace: 'default', apiVersion: 'v1' });
      assert.deepEqual(rr.user, { username: 'alice', uid: '42', groups: ['dev'], extra: { project_id: ['p-1'] } });
      assert.equal(rr.userAgent, 'test-agent/1');
      assert.equal(rr.level, 'Metadata');
      assert.equal(rr.source, 'vigil');
      assert.equal(rr.responseStatus, undefined);
      assert.equal(rr.stageTimestamp, rr.requestReceivedTimestamp);
      assert.match(rr.requestReceivedTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.deepEqual(rc.responseStatus, { metadata: {}, code: 200 });
      assert.ok(rc.stageTimestamp >= rc.requestReceivedTimestamp);
      assert.equal(rc.requestObject, undefined);
      assert.equal(rc.responseObject, undefined);
    }));

  test(`${adapter}: anonymous by default, no user when identify says authentication failed; a given Audit-ID is kept`, () =>
    withServer({}, async (base, sink) => {
      const anon = await fetch(`${base}/api/v1/namespaces/default/pods/a`);
      await anon.text();
      const [a] = await sink.stages(anon.headers.get('audit-id')!);
      assert.deepEqual(a.user, { username: 'system:anonymous', groups: ['system:unauthenticated'] });
      assert.equal(a.verb, 'get');
      assert.equal(a.objectRef?.name, 'a');
      const failed = await fetch(`${base}/api/v1/namespaces/default/pods/a`, {
        headers: { 'x-user': '!', 'audit-id': 'my-own-id' },
      });
      await failed.text();
      assert.equal(failed.headers.get('audit-id'), 'my-own-id');
      const [f] = await sink.stages('my-own-id');
      assert.deepEqual(f.user, {});
      const broken = await fetch(`${base}/api/v1/namespaces/default/pods/a`, { headers: { 'x-user': 'throw' } });
      assert.equal(broken.status, 200, 'a throwing identify does not fail the request');
      await broken.text();
      const [b] = await sink.stages(broken.headers.get('audit-id')!);
      assert.deepEqual(b.user, {});
    }));

  test(`${adapter}: sourceIPs believe X-Forwarded-For only from a trusted proxy, forwarded first, peer last`, async () => {
    await withServer({}, async (base, sink) => {
      const res = await fetch(`${base}/api/v1/namespaces/default/pods`, {
        headers: { 'x-forwarded-for': '203.0.113.7, 198.51.100.2, not-an-ip' },
      });
      await res.text();
      const [e] = await sink.stages(res.headers.get('audit-id')!);
      assert.deepEqual(e.sourceIPs, ['203.0.113.7', '198.51.100.2', '127.0.0.1']);
    });
    await withServer({ trustedProxies: ['10.0.0.0/8'] }, async (base, sink) => {
      const res = await fetch(`${base}/api/v1/namespaces/default/pods`, {
        headers: { 'x-forwarded-for': '203.0.113.7' },
      });
      await res.text();
      const [e] = await sink.stages(res.headers.get('audit-id')!);
      assert.deepEqual(e.sourceIPs, ['127.0.0.1']);
    });
  });

  test(`${adapter}: level Request records the request object and completes objectRef from it`, () =>
    withServer({}, async (base, sink) => {
      const pod = { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'web', uid: 'u-1' } };
      const res = await fetch(`${base}/api/v1/namespaces/req/pods`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(pod),
      });
      assert.equal(res.status, 201);
      await res.text();
      const [rr, rc] = await sink.stages(res.headers.get('audit-id')!);
      assert.equal(rr.verb, 'create');
      assert.equal(rr.requestObject, undefined, 'RequestReceived comes before the body is read');
      assert.deepEqual(rr.objectRef, { resource: 'pods', namespace: 'req', apiVersion: 'v1' });
      assert.deepEqual(rc.requestObject, pod);
      assert.equal(rc.responseObject, undefined);
      assert.deepEqual(rc.objectRef, { resource: 'pods', namespace: 'req', apiVersion: 'v1', name: 'web', uid: 'u-1' });
      assert.deepEqual(rc.responseStatus, { metadata: {}, code: 201 });
    }));

  test(`${adapter}: level RequestResponse records the response; a Status body fills responseStatus; omitManagedFields`, () =>
    withServer({}, async (base, sink) => {
      const list = await fetch(`${base}/api/v1/namespaces/full/pods`);
      await list.text();
      const [, rc] = await sink.stages(list.headers.get('audit-id')!);
      assert.equal((rc.responseObject as { kind: string }).kind, 'PodList');
      assert.deepEqual((rc.responseObject as { items: { metadata: object }[] }).items[0].metadata, {
        name: 'a',
        managedFields: [{ manager: 'kubectl' }],
      });
      const nomf = await fetch(`${base}/api/v1/namespaces/nomf/pods`);
      await nomf.text();
      const [, rc2] = await sink.stages(nomf.headers.get('audit-id')!);
      assert.deepEqual((rc2.responseObject as { items: { metadata: object }[] }).items[0].metadata, { name: 'a' });
      const missing = await fetch(`${base}/api/v1/namespaces/full/secrets/x`);
      assert.equal(missing.status, 404);
      await missing.text();
      const [, rc3] = await sink.stages(missing.headers.get('audit-id')!);
      assert.deepEqual(rc3.responseStatus, {
        metadata: {},
        code: 404,
        status: 'Failure',
        message: 'secrets "x" not found',
        reason: 'NotFound',
        details: { name: 'x', kind: 'secrets' },
      });
    }));

  test(`${adapter}: bodies over the limit are left out with an annotation`, () =>
    withServer({ bodyLimit: 20 }, async (base, sink) => {
      const body = JSON.stringify({ metadata: { name: 'a-long-enough-name-to-pass-20-bytes' } });
      const res = await fetch(`${base}/api/v1/namespaces/full/pods`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      await res.text();
      const [, rc] = await sink.stages(res.headers.get('audit-id')!);
      assert.equal(rc.requestObject, undefined);
      assert.equal(rc.responseObject, undefined);
      const n = Buffer.byteLength(body);
      assert.deepEqual(rc.annotations, {
        'capture.vigil.dev/request-object-omitted': `body of ${n} bytes exceeds the 20-byte limit`,
        'capture.vigil.dev/response-object-omitted': `body of ${n} bytes exceeds the 20-byte limit`,
      });
    }));

  test(`${adapter}: level None records nothing (the Audit-ID header is still set); omitted stages are not built`, () =>
    withServer({}, async (base, sink) => {
      const none = await fetch(`${base}/healthz`);
      assert.equal(await none.text(), 'ok');
      assert.ok(none.headers.get('audit-id'));
      const omitted = await fetch(`${base}/api/v1/namespaces/omit/pods?watch=true`);
      await omitted.text();
      const events = await sink.stages(omitted.headers.get('audit-id')!);
      assert.deepEqual(stages(events), ['ResponseComplete']);
      assert.equal(sink.of(none.headers.get('audit-id')!).length, 0);
    }));

  test(`${adapter}: non-resource requests: lower-case method as verb, no objectRef, no bodies even at Request level`, () =>
    withServer(
      { policy: policyOf((a) => (a.resourceRequest ? 'Metadata' : 'RequestResponse')), auditMap: undefined },
      async (base, sink) => {
        const res = await fetch(`${base}/v2/lbaas/loadbalancers`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"loadbalancer":{}}',
        });
        await res.text();
        const [rr, rc] = await sink.stages(res.headers.get('audit-id')!);
        assert.equal(rr.verb, 'post');
        assert.equal(rr.level, 'RequestResponse');
        assert.equal(rr.objectRef, undefined);
        assert.equal(rc.requestObject, undefined);
        assert.equal(rc.responseObject, undefined);
      },
    ));

  test(`${adapter}: a throwing handler gives RequestReceived then Panic (500), no ResponseComplete`, () =>
    withServer({}, async (base, sink) => {
      const res = await fetch(`${base}/api/v1/namespaces/default/panics`);
      assert.equal(res.status, 500);
      await res.text();
      const id = res.headers.get('audit-id')!;
      const events = await sink.stages(id);
      assert.deepEqual(stages(events), ['RequestReceived', 'Panic']);
      assert.deepEqual(events[1].responseStatus, {
        metadata: {},
        code: 500,
        status: 'Failure',
        reason: 'InternalError',
        message: "APIServer panic'd: boom",
      });
      // Nothing more arrives for this request once the response is closed.
      const next = await fetch(`${base}/api/v1/namespaces/default/pods`);
      await next.text();
      await sink.stages(next.headers.get('audit-id')!);
      assert.deepEqual(stages(sink.of(id)), ['RequestReceived', 'Panic']);
    }));

  test(`${adapter}: watch and SSE responses get ResponseStarted when their headers go out; plain ones do not`, () =>
    withServer({}, async (base, sink) => {
      const watch = await fetch(`${base}/api/v1/pods?watch=true`);
      assert.equal(await watch.text(), '{"type":"ADDED"}\n{"type":"MODIFIED"}\n');
      const w = await sink.stages(watch.headers.get('audit-id')!);
      assert.deepEqual(stages(w), ['RequestReceived', 'ResponseStarted', 'ResponseComplete']);
      assert.equal(w[0].verb, 'watch');
      assert.deepEqual(w[1].responseStatus, { metadata: {}, code: 200 });
      const sse = await fetch(`${base}/sse`);
      assert.equal(await sse.text(), 'data: 1\n\n');
      const s = await sink.stages(sse.headers.get('audit-id')!);
      assert.deepEqual(stages(s), ['RequestReceived', 'ResponseStarted', 'ResponseComplete']);
      assert.equal(s[0].verb, 'get');
    }));

  test(`${adapter}: a client that goes away before any answer gives ResponseComplete "Connection closed early"`, () =>
    withServer({}, async (base, sink) => {
      const ac = new AbortController();
      const pending = fetch(`${base}/hang?n=1`, { signal: ac.signal }).catch((e: Error) => e);
      await sink.until(() => sink.events.some((e) => e.requestURI === '/hang?n=1'));
      ac.abort();
      await pending;
      await sink.until(() => sink.events.some((e) => e.requestURI === '/hang?n=1' && e.stage === 'ResponseComplete'));
      const done = sink.events.find((e) => e.requestURI === '/hang?n=1' && e.stage === 'ResponseComplete')!;
      assert.deepEqual(done.responseStatus, {
        metadata: {},
        code: 200,
        status: 'Success',
        message: 'Connection closed early',
      });
    }));

  test(`${adapter}: route maps attribute other APIs (OpenFaaS actions)`, () =>
    withServer({}, async (base, sink) => {
      const list = await fetch(`${base}/system/functions?namespace=openfaas-fn`);
      await list.text();
      const [l] = await sink.stages(list.headers.get('audit-id')!);
      assert.equal(l.verb, 'list');
      assert.deepEqual(l.objectRef, { resource: 'functions', namespace: 'openfaas-fn' });
      assert.deepEqual(l.origin?.openfaas, { actions: ['Function:List'] });
      const one = await fetch(`${base}/system/function/figlet`);
      await one.text();
      const [o] = await sink.stages(one.headers.get('audit-id')!);
      assert.equal(o.verb, 'get');
      assert.deepEqual(o.objectRef, { resource: 'functions', name: 'figlet' });
      assert.deepEqual(o.origin?.openfaas, { actions: ['Function:Get'] });
    }));

  test(`${adapter}: with an audit map, verbs and origin.cadf follow it, and encodeCadf emits keystonemiddleware's event`, () =>
    withServer({}, async (base, sink) => {
      const res = await fetch(`${base}/v2/lbaas/loadbalancers?limit=2`, { headers: { 'x-user': 'bob' } });
      await res.text();
      const [rr, rc] = await sink.stages(res.headers.get('audit-id')!);
      const cadf = {
        action: 'read/list',
        target: { typeURI: 'service/load-balancer/loadbalancers', id: 'octavia', name: 'octavia' },
        observer: { id: 'target' },
      };
      assert.deepEqual(rr.origin?.cadf, cadf);
      assert.deepEqual(rc.origin?.cadf, cadf);
      assert.equal(rr.verb, 'list');
      const request = encodeCadf(rr);
      assert.equal(request.action, 'read/list');
      assert.equal(request.outcome, 'pending');
      assert.equal(request.requestPath, '/v2/lbaas/loadbalancers?limit=2');
      assert.deepEqual(request.target, cadf.target);
      assert.deepEqual(request.observer, { id: 'target' });
      assert.deepEqual(request.initiator, {
        typeURI: 'service/security/account/user',
        name: 'bob',
        host: { agent: 'node', address: '127.0.0.1' },
        project_id: 'p-1',
        id: '42',
      });
      const response = encodeCadf(rc);
      assert.equal(response.outcome, 'success');
      assert.deepEqual(response.reason, { reasonCode: '200', reasonType: 'HTTP' });
      assert.equal(response.id, request.id);
      // POST …/action: the action comes from the body, read even at Metadata level (RequestReceived precedes it).
      const act = await fetch(`${base}/v2/lbaas/loadbalancers/lb-1/action`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ 'os-start': null }),
      });
      await act.text();
      const [ar, ac] = await sink.stages(act.headers.get('audit-id')!);
      assert.equal(ar.origin?.cadf?.action, 'update');
      assert.equal(ar.verb, 'update');
      assert.equal(ac.origin?.cadf?.action, 'update/os-start');
      assert.equal(ac.verb, 'update/os-start');
      assert.equal(encodeCadf(ac).action, 'update/os-start');
      assert.equal(ac.requestObject, undefined);
      const failover = await fetch(`${base}/v2/lbaas/loadbalancers/lb-1/failover`, { method: 'PUT' });
      await failover.text();
      const [fr] = await sink.stages(failover.headers.get('audit-id')!);
      assert.equal(fr.origin?.cadf?.action, 'update/failover');
      assert.equal(
        (fr.origin?.cadf?.target as { typeURI?: string } | undefined)?.typeURI,
        'service/load-balancer/loadbalancers/loadbalancer/failover',
      );
    }));

  test(`${adapter}: strict mode: a failed RequestReceived write answers 500 and records nothing more`, () =>
    withServer({ strict: true }, async (base, sink) => {
      sink.fail = true;
      const res = await fetch(`${base}/api/v1/namespaces/default/pods`);
      assert.equal(res.status, 500);
      assert.match(await res.text(), /failed to store audit event/);
      sink.fail = false;
      const ok = await fetch(`${base}/api/v1/namespaces/default/pods`);
      assert.equal(ok.status, 200);
      await ok.text();
      await sink.stages(ok.headers.get('audit-id')!);
      assert.equal(sink.events.length, 2, 'only the second request was recorded');
    }));
}
