// deploy/kubernetes/: every object is checked against the Kubernetes API schemas — values, types, required fields by
// kubernetes-models (which does not reject unknown fields), unknown fields by the official client's models
// (@kubernetes/client-node's attribute maps: a misspelt `securityContex` would otherwise drop a security setting
// silently) — then every container's security context and probes, and the ConfigMap's vigil.yaml through Vigil's own
// config loader. The kustomizations are rendered here (resources only: any other kustomize feature fails the test);
// where kubectl is installed its `kubectl kustomize` must render the same objects.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as client from '@kubernetes/client-node';
import * as k8s from 'kubernetes-models';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/index.ts';
import { createPolicyEvaluator, loadPolicy } from '../../src/policy/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KUBE = path.join(ROOT, 'deploy/kubernetes');

// biome-ignore lint/suspicious/noExplicitAny: manifests are arbitrary JSON walked by field name
type Obj = Record<string, any>;

/** The objects `kubectl apply -k dir` would apply, in order. */
function render(dir: string): Obj[] {
  const file = path.join(dir, 'kustomization.yaml');
  const k = readYaml(file)[0]!;
  const extra = Object.keys(k).filter((key) => !['apiVersion', 'kind', 'resources', '__file'].includes(key));
  assert.deepEqual(extra, [], `${file}: only resources are rendered here`);
  assert.equal(k.kind, 'Kustomization');
  const out: Obj[] = [];
  for (const r of k.resources as string[]) {
    const p = path.join(dir, r);
    out.push(...(statSync(p).isDirectory() ? render(p) : readYaml(p)));
  }
  return out;
}

function readYaml(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], file);
    return { ...d.toJSON(), __file: path.relative(ROOT, file) };
  });
}

const id = (o: Obj) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;

/** kubernetes-models' class for the object's apiVersion and kind. */
function model(o: Obj): { validate(): void } {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  // `networking.k8s.io` is exported as networkingK8sIo.
  const key = group.replace(/\.(\w)/g, (_: string, c: string) => c.toUpperCase());
  // biome-ignore lint/suspicious/noExplicitAny: looked up by name
  const ns: any = group === '' ? (k8s as any)[version] : (k8s as any)[key]?.[version];
  const Model = ns?.[o.kind];
  assert.ok(Model, `${o.__file}: no schema for ${o.apiVersion} ${o.kind}`);
  const { __file, ...plain } = o;
  return new Model(plain);
}

/** Fields the official client's models do not know, as JSON paths. */
function unknownFields(value: unknown, type: string, at: string, out: string[]): void {
  if (value === null || value === undefined) return;
  const list = /^Array<(.+)>$/.exec(type);
  if (list) {
    if (Array.isArray(value)) for (const [i, v] of value.entries()) unknownFields(v, list[1]!, `${at}[${i}]`, out);
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    for (const [k, v] of Object.entries(value as Obj)) unknownFields(v, map[1]!, `${at}.${k}`, out);
    return;
  }
  // biome-ignore lint/suspicious/noExplicitAny: generated model classes looked up by name
  const Model = (client as any)[type];
  if (typeof Model?.getAttributeTypeMap !== 'function' || typeof value !== 'object') return;
  const attrs = Model.getAttributeTypeMap() as { baseName: string; type: string }[];
  for (const [k, v] of Object.entries(value as Obj)) {
    const a = attrs.find((x) => x.baseName === k);
    if (!a) out.push(`${at}.${k}`);
    else unknownFields(v, a.type, `${at}.${k}`, out);
  }
}

/** The official client's model of the object (V1Deployment for apps/v1 Deployment). */
function clientType(o: Obj): string {
  const version = o.apiVersion.split('/').pop() as string;
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${o.kind}`;
}

/** The pod template of a workload. */
function podSpec(o: Obj): Obj | undefined {
  return o.spec?.template?.spec;
}

const layouts = { sqlite: render(KUBE), postgres: render(path.join(KUBE, 'postgres')) };

describe('deploy/kubernetes', () => {
  for (const [name, objects] of Object.entries(layouts)) {
    test(`${name}: every object is valid against the Kubernetes schemas, without unknown fields`, () => {
      assert.ok(objects.length >= 10);
      const seen = new Set<string>();
      for (const o of objects) {
        assert.ok(!seen.has(id(o)), `${id(o)} twice`);
        seen.add(id(o));
        assert.doesNotThrow(() => model(o).validate(), `${o.__file}: ${id(o)}`);
        const { __file, ...plain } = o;
        const unknown: string[] = [];
        const type = clientType(o);
        assert.equal(typeof (client as Obj)[type]?.getAttributeTypeMap, 'function', `${__file}: no model ${type}`);
        unknownFields(plain, type, id(o), unknown);
        assert.deepEqual(unknown, [], `${__file}: unknown fields`);
      }
    });

    test(`${name}: every container is locked down and probed`, () => {
      const workloads = objects.filter((o) => podSpec(o));
      assert.deepEqual(workloads.map((o) => o.kind).sort(), [
        'DaemonSet',
        name === 'sqlite' ? 'StatefulSet' : 'Deployment',
      ]);
      for (const w of workloads) {
        const pod = podSpec(w)!;
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${id(w)} pod seccomp`);
        assert.equal(pod.automountServiceAccountToken, false, `${id(w)}: no API token needed`);
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
          const where = `${id(w)} container ${c.name}`;
          const sc = c.securityContext ?? {};
          assert.equal(sc.allowPrivilegeEscalation, false, where);
          assert.equal(sc.readOnlyRootFilesystem, true, where);
          assert.equal(sc.privileged, false, where);
          assert.deepEqual(sc.capabilities, { drop: ['ALL'] }, where);
          assert.equal(sc.seccompProfile?.type, 'RuntimeDefault', where);
          if (w.kind === 'DaemonSet') {
            // The one exception, said and bounded: root (the audit log is 0600 root:root) with no capability at all.
            assert.equal(pod.securityContext.runAsUser, 0, where);
          } else {
            assert.equal(sc.runAsNonRoot, true, where);
            assert.equal(pod.securityContext.runAsNonRoot, true, where);
            assert.ok(pod.securityContext.runAsUser > 0, where);
          }
          assert.ok(c.livenessProbe?.httpGet, `${where}: liveness probe`);
          assert.ok(c.readinessProbe?.httpGet, `${where}: readiness probe`);
          if (w.kind !== 'DaemonSet') {
            assert.equal(c.livenessProbe.httpGet.path, '/healthz', where);
            assert.equal(c.readinessProbe.httpGet.path, '/readyz', where);
            assert.equal(c.startupProbe?.httpGet?.path, '/healthz', where);
          }
          assert.ok(c.resources?.limits?.memory, `${where}: memory limit`);
          // Every writable path is a volume: the root file system is read-only.
          assert.ok(
            c.volumeMounts.some((m: Obj) => m.mountPath === '/tmp'),
            `${where}: /tmp volume`,
          );
        }
      }
      const agent = workloads.find((w) => w.kind === 'DaemonSet')!;
      const logVolume = podSpec(agent)!.volumes.find((v: Obj) => v.name === 'audit-log');
      assert.equal(logVolume.hostPath.path, '/var/log/kubernetes/audit');
      const mount = podSpec(agent)!.containers[0].volumeMounts.find((m: Obj) => m.name === 'audit-log');
      assert.equal(mount.readOnly, true, 'the audit log folder is mounted read-only');
      assert.deepEqual(podSpec(agent)!.nodeSelector, { 'node-role.kubernetes.io/control-plane': '' });
      assert.equal(objects.filter((o) => o.kind === 'PodDisruptionBudget').length, 1);
      assert.equal(objects.filter((o) => o.kind === 'NetworkPolicy').length, 2);
      const collector = workloads.find((w) => w.kind !== 'DaemonSet')!;
      assert.equal(collector.spec.replicas, name === 'sqlite' ? 1 : 3);
    });

    test(`${name}: the ConfigMap's vigil.yaml is accepted by Vigil's config loader`, () => {
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'vigil-config')!;
      const config = parseConfig(cm.data['vigil.yaml'], `${cm.__file}#vigil.yaml`);
      assert.equal(config.listen, '0.0.0.0:8080');
      assert.equal(config.storage.type, name);
      // The workload mounts what the config names.
      const workload = objects.find((o) => podSpec(o) && o.kind !== 'DaemonSet')!;
      const mounts = podSpec(workload)!.containers[0].volumeMounts.map((m: Obj) => m.mountPath);
      assert.ok(mounts.includes('/etc/vigil') && mounts.includes('/etc/vigil-secrets') && mounts.includes('/data'));
      const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === 'vigil')!;
      assert.ok('signing.key' in secret.stringData);
    });
  }

  test('the checks catch a misspelt field and a wrong type', () => {
    const ds = structuredClone(layouts.sqlite.find((o) => o.kind === 'DaemonSet')!);
    const c = ds.spec.template.spec.containers[0];
    c.securityContex = c.securityContext;
    const unknown: string[] = [];
    const { __file, ...plain } = ds;
    unknownFields(plain, clientType(ds), id(ds), unknown);
    assert.deepEqual(unknown, [`${id(ds)}.spec.template.spec.containers[0].securityContex`]);
    ds.spec.template.spec.terminationGracePeriodSeconds = 'thirty';
    assert.throws(() => model(ds).validate(), /terminationGracePeriodSeconds must be integer/);
  });

  test('kubectl kustomize renders the same objects', () => {
    try {
      execFileSync('kubectl', ['version', '--client'], { stdio: 'pipe' });
    } catch {
      throw new Error("kubectl is missing: run .ci/run (it installs the machine image's kubectl package)");
    }
    for (const [name, objects] of Object.entries(layouts)) {
      const dir = name === 'sqlite' ? KUBE : path.join(KUBE, 'postgres');
      const theirs = parseAllDocuments(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' })).map(
        (d) => d.toJSON() as Obj,
      );
      assert.deepEqual(theirs.map(id).sort(), objects.map(id).sort(), name);
    }
  });
});

describe('examples/kubernetes/audit-policy.yaml', () => {
  const file = path.join(ROOT, 'examples/kubernetes/audit-policy.yaml');
  const policy = loadPolicy(readFileSync(file, 'utf8'), file);
  const p = createPolicyEvaluator(policy);
  const req = (o: Partial<Parameters<typeof p.evaluate>[0]>) =>
    p.evaluate({
      user: { username: 'alice', groups: ['system:authenticated'] },
      verb: 'get',
      resourceRequest: true,
      path: '/api/v1/namespaces/default/pods/x',
      namespace: 'default',
      apiGroup: '',
      resource: 'pods',
      subresource: '',
      name: 'x',
      ...o,
    }).level;

  test('is a valid audit.k8s.io/v1 Policy that drops RequestReceived', () => {
    assert.equal(policy.apiVersion, 'audit.k8s.io/v1');
    assert.deepEqual(policy.omitStages, ['RequestReceived']);
  });

  test('levels: noise none, secrets metadata only, changes with bodies, RBAC with answers', () => {
    assert.equal(req({ resourceRequest: false, path: '/healthz', resource: '', namespace: '' }), 'None');
    assert.equal(req({ user: { username: 'system:kube-proxy' }, verb: 'watch', resource: 'endpoints' }), 'None');
    assert.equal(req({ resource: 'events', verb: 'create' }), 'None');
    assert.equal(req({ resource: 'secrets', verb: 'create' }), 'Metadata');
    assert.equal(req({ resource: 'secrets' }), 'Metadata');
    assert.equal(req({ resource: 'pods', subresource: 'exec', verb: 'create' }), 'Metadata');
    assert.equal(req({}), 'Metadata');
    assert.equal(req({ apiGroup: 'apps', resource: 'deployments', verb: 'patch' }), 'Request');
    assert.equal(
      req({ apiGroup: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', verb: 'create', namespace: '' }),
      'RequestResponse',
    );
    assert.equal(req({ resourceRequest: false, path: '/logs/x', resource: '', verb: 'post' }), 'Metadata');
  });
});

test('the Dockerfile builds from the npm pack tarball, runs vigil serve as a non-root user with /data and a HEALTHCHECK', () => {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  assert.match(text, /^ARG NODE_IMAGE=node:24-[a-z]+-slim$/m);
  assert.equal((text.match(/^FROM /gm) ?? []).length, 2, 'multi-stage');
  assert.match(text, /^COPY vigil-audit-\*\.tgz /m);
  assert.match(text, /^USER 10001:10001$/m);
  assert.match(text, /^VOLUME \["\/data"\]$/m);
  assert.match(text, /^HEALTHCHECK /m);
  assert.match(text, /^ENTRYPOINT \["node", "\/opt\/vigil\/bin\/vigil\.js", "serve"\]$/m);
  assert.ok(existsSync(path.join(ROOT, '.dockerignore')));
});
