// Credentials never survive masking: secrets planted under secret-named keys at any depth and casing of the bodies,
// in format leftovers, as a CADF credential token, or at configured paths, are gone from the event's JSON.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type AuditEvent,
  decodeCadf,
  decodeEvents,
  decodeOpenFaaSEvent,
  isSecretLikeName,
  MASK,
  maskCredentials,
  maskQuery,
  parseMaskPath,
  SECRET_KEYS,
} from '../../src/event/index.ts';
import { fixture, nested } from './helpers.ts';

const events = decodeEvents(fixture('falco/k8saudit-events.jsonl'));
const cadfResponse = JSON.parse(fixture('cadf-response-notification.json'));

/** A key named like a secret, in some casing. */
const secretKey = fc
  .tuple(fc.constantFrom(...SECRET_KEYS), fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }))
  .map(([k, up]) => [...k].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));

const plainKey = fc.constantFrom('name', 'spec', 'data', 'items', 'metadata', 'value', 'tokens', 'x');

/** A body with secrets planted; returns the body and the secrets. */
const bodyWithSecrets = fc
  .tuple(
    fc.jsonValue({ maxDepth: 3 }),
    fc.array(
      fc.record({
        path: fc.array(fc.oneof(plainKey, fc.nat(3)), { maxLength: 5 }),
        key: secretKey,
        shape: fc.constantFrom('string', 'object', 'array', 'number'),
      }),
      { minLength: 1, maxLength: 5 },
    ),
  )
  .map(([base, plants]) => {
    let body: unknown = { base };
    const secrets: string[] = [];
    plants.forEach((p, n) => {
      const secret = `S3cr3t-${n}-${p.key}-value`;
      secrets.push(secret);
      const value = p.shape === 'object' ? { inner: secret } : p.shape === 'array' ? [secret] : secret;
      // Walk/create the path, then plant.
      let cur = body as Record<string | number, unknown>;
      for (const seg of p.path) {
        if (typeof seg === 'number') {
          const arr = Array.isArray(cur.list) ? (cur.list as unknown[]) : [];
          cur.list = arr;
          while (arr.length <= seg) arr.push({});
          if (arr[seg] === null || typeof arr[seg] !== 'object' || Array.isArray(arr[seg])) arr[seg] = {};
          cur = arr[seg] as Record<string, unknown>;
        } else {
          const next = cur[seg];
          if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[seg] = {};
          cur = cur[seg] as Record<string, unknown>;
        }
      }
      cur[p.key] = value;
    });
    if (Array.isArray(body)) body = { body };
    return { body, secrets };
  });

describe('maskCredentials', () => {
  test('property: no planted secret survives anywhere in the JSON of the masked event', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...events),
        bodyWithSecrets,
        bodyWithSecrets,
        bodyWithSecrets,
        fc.string({ minLength: 8, maxLength: 200 }).map((t) => `tok-${t}`),
        (base, req, resp, leftover, token) => {
          const e: AuditEvent = structuredClone(base);
          e.requestObject = req.body;
          e.responseObject = resp.body;
          e.origin = {
            cadf: { initiator: { credential: { token, identity_status: 'Confirmed' } }, extra: leftover.body },
          };
          const secrets = [...req.secrets, ...resp.secrets, ...leftover.secrets];
          const masked = JSON.stringify(maskCredentials(e));
          for (const s of secrets) assert.ok(!masked.includes(s), `${s} survived: ${masked}`);
          assert.ok(!masked.includes(token), 'the credential token survived');
          assert.ok(masked.includes('"identity_status":"Confirmed"'));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('keeps the key, replaces the value; other members untouched', () => {
    const e = structuredClone(events[0]);
    e.requestObject = {
      kind: 'Secret',
      data: { password: 'cGFzcw==', 'ca.crt': 'Y2E=' },
      headers: { Authorization: 'Bearer abc', Cookie: 'sid=1', Accept: 'json' },
      list: [{ API_KEY: 'k' }, { access_token: { nested: 'x' } }],
      token: '',
    };
    maskCredentials(e);
    assert.deepEqual(e.requestObject, {
      kind: 'Secret',
      data: { password: MASK, 'ca.crt': MASK }, // a Secret's values, whatever their keys
      headers: { Authorization: MASK, Cookie: MASK, Accept: 'json' },
      list: [{ API_KEY: MASK }, { access_token: MASK }],
      token: '',
    });
  });

  test("CADF credential: an already masked token stays (*** or pycadf's), a clear one becomes ***", () => {
    const e = decodeCadf(cadfResponse);
    const cred = (e.origin!.cadf!.initiator as { credential: { token: string } }).credential;
    assert.equal(cred.token, MASK, 'the fixture comes masked by the log driver');
    maskCredentials(e);
    assert.equal(cred.token, MASK);
    const pycadf = 'gAAAAAB8151ec931604fecc xxxxxxxx 402b12ecb4b64a8c563088c';
    cred.token = pycadf;
    maskCredentials(e);
    assert.equal(cred.token, pycadf);
    cred.token = 'gAAAAABclear-token-value';
    maskCredentials(e);
    assert.equal(cred.token, MASK);
  });

  test('configured paths, [n] and [*]', () => {
    const e = structuredClone(events[0]);
    e.requestObject = {
      spec: {
        env: [
          { name: 'DB', value: 'hunter2' },
          { name: 'X', value: 'y' },
        ],
        note: 'n',
      },
    };
    maskCredentials(e, ['requestObject.spec.env[*].value', 'requestObject.spec.note', 'requestObject.missing.x']);
    assert.deepEqual(e.requestObject, {
      spec: {
        env: [
          { name: 'DB', value: MASK },
          { name: 'X', value: MASK },
        ],
        note: MASK,
      },
    });
    e.requestObject = { a: [['s0', 's1']] };
    maskCredentials(e, [parseMaskPath('requestObject.a[0][1]')]);
    assert.deepEqual(e.requestObject, { a: [['s0', MASK]] });
    assert.throws(() => parseMaskPath('a..b'), /invalid mask path/);
  });

  test('deep bodies and prototype keys: no stack overflow, no prototype change', () => {
    const e = structuredClone(events[0]);
    const deep = nested(100_000, { password: 'deep-secret' });
    e.requestObject = JSON.parse('{"__proto__": {"token": "proto-secret"}}');
    e.responseObject = deep;
    maskCredentials(e);
    let cur: unknown = e.responseObject;
    while (cur && typeof cur === 'object' && !('password' in cur)) cur = Object.values(cur)[0];
    assert.deepEqual(cur, { password: MASK });
    assert.deepEqual(Object.getOwnPropertyDescriptor(e.requestObject, '__proto__')?.value, { token: MASK });
    assert.equal(({} as Record<string, unknown>).token, undefined);
  });

  test('bodies built in code: a cycle ends the walk, shared objects are masked, a wide DAG stays linear', () => {
    const e = structuredClone(events[0]);
    const a: Record<string, unknown> = { password: 'cyclic-secret' };
    a.self = { back: a, env: [{ name: 'DB_PASSWORD', value: 'pair-secret' }] };
    const shared = { token: 'shared-secret' };
    e.requestObject = { a, one: shared, two: [shared, shared] };
    // 2^40 paths through 40 levels of objects each referenced twice
    let dag: Record<string, unknown> = { secret: 'dag-secret' };
    for (let i = 0; i < 40; i++) dag = { l: dag, r: dag };
    e.responseObject = dag;
    maskCredentials(e);
    assert.equal(a.password, MASK);
    assert.equal(((a.self as Record<string, unknown>).env as { value: string }[])[0]!.value, MASK);
    assert.equal(shared.token, MASK);
    let cur = e.responseObject as Record<string, unknown>;
    while ('l' in cur) cur = cur.l as Record<string, unknown>;
    assert.deepEqual(cur, { secret: MASK });
  });
});

describe('secrets inside strings and pairs', () => {
  test('requestURI: secret query parameter values become ***, names and everything else as written', () => {
    const cases: [string, string][] = [
      ['/api/v1/pods', '/api/v1/pods'],
      ['/api/v1/pods?watch=true&limit=500&resourceVersion=0', '/api/v1/pods?watch=true&limit=500&resourceVersion=0'],
      ['/x?token=abc', '/x?token=***'],
      ['/x?a=1&access_token=abc.def&b=2', '/x?a=1&access_token=***&b=2'],
      [
        '/x?password=p&api_key=k&secret=s&client_secret=c&refresh_token=r&apikey=k2',
        '/x?password=***&api_key=***&secret=***&client_secret=***&refresh_token=***&apikey=***',
      ],
      ['/x?Access_Token=abc&TOKEN=d', '/x?Access_Token=***&TOKEN=***'],
      ['/x?%74oken=abc&api%5Fkey=k&%41PI_KEY=z', '/x?%74oken=***&api%5Fkey=***&%41PI_KEY=***'],
      ['/x?%E0%A4%A=1&token=t', '/x?%E0%A4%A=1&token=***'],
      [
        '/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Security-Token=FQoG%2Fa&X-Amz-Signature=0a1b2c',
        '/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Security-Token=***&X-Amz-Signature=***',
      ],
      [
        '/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=900&X-Goog-Signature=9f8e',
        '/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=900&X-Goog-Signature=***',
      ],
      ['/c/b?sv=2022-11-02&se=2024&sp=r&sig=AbC%3D', '/c/b?sv=2022-11-02&se=2024&sp=r&sig=***'],
      ['/x?Signature=s&AWSAccessKeyId=AKIA', '/x?Signature=***&AWSAccessKeyId=AKIA'],
      ['/x?token=&token&=v&token=a=b&x=1', '/x?token=&token&=v&token=***&x=1'],
      ['/x?token=a&token=b', '/x?token=***&token=***'],
      ['/x?token=abc#frag=1&token=f', '/x?token=***#frag=1&token=f'],
      ['/x?next=/y?token=abc&z=1', '/x?next=/y?token=***&z=1'],
      ['/x?token=***', '/x?token=***'],
      // named like a secret: a secret word at the end; not plurals or longer words
      ['/x?tokens=a&my_token=b&continue=c', '/x?tokens=a&my_token=***&continue=c'],
      [
        '/x?DB_PASSWORD=a&githubToken=b&token-ttl=5m&secretName=s',
        '/x?DB_PASSWORD=***&githubToken=***&token-ttl=5m&secretName=s',
      ],
    ];
    for (const [uri, want] of cases) assert.equal(maskQuery(uri), want, uri);
    const e = structuredClone(events[0]);
    e.requestURI = '/api/v1/namespaces/a/pods?access_token=eyJhbGci.x.y&watch=1';
    assert.equal(maskCredentials(e).requestURI, '/api/v1/namespaces/a/pods?access_token=***&watch=1');
  });

  test("kubectl exec's arguments in the requestURI: secret flags, assignments, credentials and URL passwords", () => {
    const exec = '/api/v1/namespaces/appl-example/pods/pod-example/exec';
    const cases: [string, string][] = [
      // kubernetes#97795, as kube-apiserver logged it for `kubectl exec pod-example -- /opt/x/admincli --token=MYSECRET`
      [
        `${exec}?command=%2Fopt%2Fx%2Fadmincli&command=--token%3DMYSECRET&container=example&stderr=true&stdout=true`,
        `${exec}?command=%2Fopt%2Fx%2Fadmincli&command=--token%3D***&container=example&stderr=true&stdout=true`,
      ],
      [`${exec}?command=--token=MYSECRET`, `${exec}?command=--token=***`],
      [
        `${exec}?command=app&command=-Password%3dp&command=--api-key%3Dk`,
        `${exec}?command=app&command=-Password%3d***&command=--api-key%3D***`,
      ],
      // the value as the next argument: `--password hunter2`
      [
        `${exec}?command=admin&command=--password&command=hunter2&command=--verbose&container=c`,
        `${exec}?command=admin&command=--password&command=***&command=--verbose&container=c`,
      ],
      [`${exec}?command=x&command=--token`, `${exec}?command=x&command=--token`],
      // environment assignments: `env PGPASSWORD=… psql`, `GITHUB_TOKEN=…`
      [
        `${exec}?command=env&command=PGPASSWORD%3Ds3cret&command=psql`,
        `${exec}?command=env&command=PGPASSWORD%3D***&command=psql`,
      ],
      [
        `${exec}?command=sh&command=-c&command=GITHUB_TOKEN%3Dghp_x+gh+pr+list`,
        `${exec}?command=sh&command=-c&command=GITHUB_TOKEN%3D***`,
      ],
      // `curl -H "Authorization: Bearer …"` and a URL with a password
      [
        `${exec}?command=curl&command=-H&command=Authorization%3A+Bearer+eyJhbGciOi.x.y&command=http%3A%2F%2Fsvc`,
        `${exec}?command=curl&command=-H&command=Authorization%3A%20Bearer%20***&command=http%3A%2F%2Fsvc`,
      ],
      [
        `${exec}?command=psql&command=postgres%3A%2F%2Fapp%3Ahunter2%40db%2Fapp`,
        `${exec}?command=psql&command=postgres%3A%2F%2Fapp%3A***%40db%2Fapp`,
      ],
      // not secrets: other flags and assignments, selectors, a flag without a value
      [
        `${exec}?command=ls&command=-la&command=--token-ttl%3D5m&command=MODE%3Dprod&command=--no-password`,
        `${exec}?command=ls&command=-la&command=--token-ttl%3D5m&command=MODE%3Dprod&command=--no-password`,
      ],
      [
        '/api/v1/pods?labelSelector=app%3Dweb%2Ctier%3Dfront&fieldSelector=spec.nodeName%3Dn1',
        '/api/v1/pods?labelSelector=app%3Dweb%2Ctier%3Dfront&fieldSelector=spec.nodeName%3Dn1',
      ],
      // a service proxied through the API server carries its own query
      [
        '/api/v1/namespaces/a/services/web:80/proxy/login?user=u&password=p',
        '/api/v1/namespaces/a/services/web:80/proxy/login?user=u&password=***',
      ],
    ];
    for (const [uri, want] of cases) {
      assert.equal(maskQuery(uri), want, uri);
      assert.equal(maskQuery(want), want, `masking twice: ${want}`);
    }
  });

  test('CADF requestPath and OpenFaaS path are the requestURI: masked too', () => {
    const cadf = structuredClone(cadfResponse);
    cadf.payload.requestPath = '/v2/lb?password=p&name=n';
    assert.equal(maskCredentials(decodeCadf(cadf)).requestURI, '/v2/lb?password=***&name=n');
    const faas = decodeOpenFaaSEvent({
      actor: { sub: 'u' },
      path: '/system/functions?namespace=fn&api_key=k',
      method: 'GET',
      actions: ['Function:Read'],
      response_code: 200,
      time: '2024-01-01T00:00:00Z',
    });
    assert.equal(maskCredentials(faas).requestURI, '/system/functions?namespace=fn&api_key=***');
    assert.equal(faas.objectRef?.namespace, 'fn', 'decoded from the query before masking');
  });

  test('name/value and key/value pairs: value masked when the name is a secret name', () => {
    const e = structuredClone(events[0]);
    e.requestObject = {
      har: [
        { name: 'Authorization', value: 'Bearer abc' },
        { name: 'accept', value: 'application/json' },
        { name: 'COOKIE', value: 'sid=1', comment: 'c' },
      ],
      gateway: [
        { key: 'X-Api-Key', value: 'k' },
        { key: 'content-type', value: 'text/plain' },
        { key: 'x-auth-token', value: { nested: 'v' } },
      ],
      spec: {
        containers: [
          {
            name: 'app',
            env: [
              { name: 'PASSWORD', value: 'hunter2' },
              { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'token', key: 'token' } } },
              { name: 'MODE', value: 'prod' },
              { name: 'DB_PASSWORD', value: 'pw' },
              { name: 'GITHUB_TOKEN', value: 'ghp_x' },
              { name: 'TOKEN_TTL', value: '5m' },
            ],
            livenessProbe: {
              httpGet: { path: '/healthz', httpHeaders: [{ name: 'authorization', value: 'Basic x' }] },
            },
          },
        ],
      },
      odd: [{ name: { first: 'token' }, value: 'kept' }, { name: 'token' }, { name: 'token', value: '' }],
    };
    maskCredentials(e);
    assert.deepEqual(e.requestObject, {
      har: [
        { name: 'Authorization', value: MASK },
        { name: 'accept', value: 'application/json' },
        { name: 'COOKIE', value: MASK, comment: 'c' },
      ],
      gateway: [
        { key: 'X-Api-Key', value: MASK },
        { key: 'content-type', value: 'text/plain' },
        { key: 'x-auth-token', value: MASK },
      ],
      spec: {
        containers: [
          {
            name: 'app',
            env: [
              { name: 'PASSWORD', value: MASK },
              { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'token', key: 'token' } } },
              { name: 'MODE', value: 'prod' },
              { name: 'DB_PASSWORD', value: MASK },
              { name: 'GITHUB_TOKEN', value: MASK },
              { name: 'TOKEN_TTL', value: '5m' },
            ],
            livenessProbe: { httpGet: { path: '/healthz', httpHeaders: [{ name: 'authorization', value: MASK }] } },
          },
        ],
      },
      odd: [{ name: { first: 'token' }, value: 'kept' }, { name: 'token' }, { name: 'token', value: '' }],
    });
  });

  test('annotations: secret-named keys and Bearer/Basic credentials in values; prose and other strings kept', () => {
    const e = structuredClone(events[0]);
    const snippet = 'proxy_set_header Authorization "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig";';
    e.annotations = {
      'authorization.k8s.io/decision': 'allow',
      'example.com/auth': 'basic dXNlcjpwYXNz',
      'example.com/doc': 'Basic authentication and bearer tokens are supported',
      'example.com/lower': 'Bearer abcdefghijkl',
      'example.com/short': 'Basic abcdefg1',
      Token: 't',
    };
    e.requestObject = {
      metadata: { annotations: { 'nginx.ingress.kubernetes.io/configuration-snippet': snippet } },
      spec: { note: 'Bearer abc12345678' },
    };
    maskCredentials(e);
    assert.deepEqual(e.annotations, {
      'authorization.k8s.io/decision': 'allow',
      'example.com/auth': `basic ${MASK}`,
      'example.com/doc': 'Basic authentication and bearer tokens are supported',
      'example.com/lower': 'Bearer abcdefghijkl',
      'example.com/short': `Basic ${MASK}`,
      Token: MASK,
    });
    assert.deepEqual(e.requestObject, {
      metadata: {
        annotations: {
          'nginx.ingress.kubernetes.io/configuration-snippet': `proxy_set_header Authorization "Bearer ${MASK}";`,
        },
      },
      spec: { note: 'Bearer abc12345678' }, // only annotations are scanned as free text (docs/collector.md)
    });
  });

  /** A query parameter name: a secret one in some casing, some characters percent-encoded, or an ordinary one. */
  const paramName = fc.oneof(
    fc
      .tuple(secretKey, fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }), fc.boolean())
      .map(([k, enc, lowerHex]) => ({
        secret: true,
        raw: [...k]
          .map((c, i) => {
            if (!enc[i]) return c;
            const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
            return `%${lowerHex ? hex : hex.toUpperCase()}`;
          })
          .join(''),
      })),
    fc.constantFrom('sig', 'X-Amz-Signature', 'x-goog-signature', 'id_token').map((raw) => ({ secret: true, raw })),
    fc
      .constantFrom('watch', 'limit', 'labelSelector', 'continue', 'tokens', 'key', 'X-Amz-Credential', 'a')
      .map((raw) => ({ secret: false, raw })),
  );
  const paramValue = fc
    .stringMatching(/^[A-Za-z0-9%=./:*+_~-]{0,12}$/)
    // (values that spell a secret flag or assignment are the flagged ones below)
    .filter((v) => !/pass|token|secret|key/i.test(v));
  const uriParts = fc.record({
    path: fc.stringMatching(/^(\/[a-z0-9.-]{1,8}){1,4}$/),
    params: fc.array(
      fc.record({
        name: paramName,
        eq: fc.boolean(),
        value: paramValue,
        // `command=--token%3D<value>`: a secret flag as an argument, masked after its `=`
        flag: fc.option(fc.constantFrom('--token%3D', '--password=', 'DB_PASSWORD%3d', '-api_key%3D'), {
          nil: undefined,
        }),
      }),
      { maxLength: 6 },
    ),
    question: fc.boolean(),
    fragment: fc.option(fc.stringMatching(/^[a-z=&]{0,8}$/), { nil: undefined }),
  });
  function uriOf(p: typeof uriParts extends fc.Arbitrary<infer T> ? T : never, masked: boolean): string {
    const q = p.params.map(({ name, eq, value, flag }) => {
      if (!eq) return name.raw;
      if (flag !== undefined && !name.secret) return `${name.raw}=${flag}${masked ? MASK : `${value}x`}`;
      return `${name.raw}=${masked && name.secret && value !== '' ? MASK : value}`;
    });
    return `${p.path}${p.question || q.length ? `?${q.join('&')}` : ''}${p.fragment === undefined ? '' : `#${p.fragment}`}`;
  }

  /** Where masking may change `masked` against `orig`: only secret values, each to ***. */
  function assertOnlySecretsChanged(orig: unknown, masked: unknown, at: string): void {
    if (orig === masked) return;
    if (orig === null || typeof orig !== 'object' || masked === null || typeof masked !== 'object') {
      assert.deepEqual(masked, orig, `${at} changed`);
      return;
    }
    assert.equal(Array.isArray(masked), Array.isArray(orig), at);
    const o = orig as Record<string, unknown>;
    const m = masked as Record<string, unknown>;
    assert.deepEqual(Object.keys(m), Object.keys(o), `${at}: members`);
    const secretName = (n: string) => SECRET_KEYS.has(n.toLowerCase()) || isSecretLikeName(n);
    const pairSecret = ['name', 'key'].some((k) => typeof o[k] === 'string' && secretName(o[k] as string));
    for (const k of Object.keys(o)) {
      const secret =
        SECRET_KEYS.has(k.toLowerCase()) ||
        (isSecretLikeName(k) && typeof o[k] === 'string') ||
        (k === 'value' && pairSecret);
      if (secret && m[k] === MASK) continue;
      assertOnlySecretsChanged(o[k], m[k], `${at}.${k}`);
    }
  }

  /** Annotation values: prose (which must stay) and `Bearer`/`Basic` credentials, as written and as masked. */
  const prose = fc.constantFrom('auth', 'is', 'required', 'tokens', 'Basic', 'bearer', 'Authorization:', '"x";');
  const credential = fc
    .tuple(
      fc.constantFrom('Bearer', 'bearer', 'Basic', 'BASIC'),
      fc.stringMatching(/^[A-Za-z0-9._~+/-]{7,30}$/),
      fc.constantFrom('', '=', '=='),
    )
    .map(([scheme, t, pad]) => ({ text: `${scheme} ${t}9${pad}`, masked: `${scheme} ${MASK}` }));
  const annotationValue = fc
    .array(
      fc.oneof(
        prose.map((w) => ({ text: w, masked: w })),
        credential,
      ),
      { maxLength: 6 },
    )
    .map((parts) => ({ text: parts.map((p) => p.text).join(' '), masked: parts.map((p) => p.masked).join(' ') }));
  const annotations = fc.dictionary(fc.stringMatching(/^example\.com\/[a-z]{1,8}$/), annotationValue, { maxKeys: 3 });

  test('property: masking changes nothing but secret values, and masking twice is masking once', () => {
    const pairName = fc.oneof(secretKey, plainKey);
    const pairValue = fc.jsonValue({ maxDepth: 1 });
    const pair = fc.oneof(
      fc.record({ name: pairName, value: pairValue }),
      fc.record({ key: pairName, value: pairValue, comment: fc.string() }),
    );
    fc.assert(
      fc.property(
        // not the events on secrets: there every `data` map is a Secret's (tested below)
        fc.constantFrom(...events.filter((e) => e.objectRef?.resource !== 'secrets')),
        uriParts,
        bodyWithSecrets,
        fc.array(pair, { maxLength: 4 }),
        fc.jsonValue({ maxDepth: 3 }),
        annotations,
        (base, uri, req, pairs, resp, ann) => {
          const text = (pick: 'text' | 'masked') =>
            Object.fromEntries(Object.entries(ann).map(([k, v]) => [k, v[pick]]));
          const e: AuditEvent = structuredClone(base);
          e.requestURI = uriOf(uri, false);
          e.annotations = { ...base.annotations, ...text('text') };
          e.requestObject = {
            ...(req.body as object),
            headers: pairs,
            pod: { metadata: { annotations: text('text') } },
          };
          e.responseObject = resp;
          const orig = structuredClone(e);
          const masked = maskCredentials(structuredClone(e));
          // The strings built from parts: exactly the secrets replaced.
          assert.equal(masked.requestURI, uriOf(uri, true));
          assert.deepEqual(masked.annotations, { ...base.annotations, ...text('masked') });
          const pod = (masked.requestObject as { pod: { metadata: { annotations: unknown } } }).pod;
          assert.deepEqual(pod.metadata.annotations, text('masked'));
          // Everything else: unchanged but for secret-named members and secret pairs' values, each ***.
          const rest = (x: AuditEvent) => ({
            ...x,
            requestURI: '',
            annotations: {},
            requestObject: { ...(x.requestObject as object), pod: 0 },
          });
          assertOnlySecretsChanged(rest(orig), rest(masked), 'event');
          assert.deepEqual(maskCredentials(structuredClone(masked)), masked, 'idempotent');
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('Kubernetes Secrets: the values of data and stringData are masked under any key', () => {
  const secret = () => ({
    kind: 'Secret',
    apiVersion: 'v1',
    metadata: { name: 'tls', namespace: 'a', labels: { app: 'web' } },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': 'LS0tLS1CRUdJTi', 'tls.key': 'c2VjcmV0LWtleQ==' },
    stringData: { '.dockerconfigjson': '{"auths":{}}' },
  });
  const event = (over: Partial<AuditEvent>): AuditEvent =>
    ({
      ...events[0]!,
      objectRef: { resource: 'secrets', namespace: 'a', name: 'tls', apiVersion: 'v1' },
      ...over,
    }) as AuditEvent;

  test('a Secret in a request and a SecretList in a response: keys and metadata kept, values masked', () => {
    const e = maskCredentials(
      event({
        requestObject: secret(),
        responseObject: {
          kind: 'SecretList',
          apiVersion: 'v1',
          metadata: {},
          items: [{ ...secret(), kind: undefined }],
        },
      }),
    );
    for (const o of [e.requestObject, (e.responseObject as { items: unknown[] }).items[0]] as Record<
      string,
      Record<string, unknown>
    >[]) {
      assert.deepEqual(o.data, { 'tls.crt': MASK, 'tls.key': MASK });
      assert.deepEqual(o.stringData, { '.dockerconfigjson': MASK });
      assert.deepEqual(o.metadata, { name: 'tls', namespace: 'a', labels: { app: 'web' } });
      assert.equal(o.type, 'kubernetes.io/tls');
    }
  });

  test('patches to secrets (merge and JSON patch) carry no kind and are masked by the resource', () => {
    const merge = maskCredentials(event({ requestObject: { data: { 'db.url': 'cG9zdGdyZXM6Ly91OnBAaA==' } } }));
    assert.deepEqual(merge.requestObject, { data: { 'db.url': MASK } });
    const json = maskCredentials(
      event({
        requestObject: [
          { op: 'replace', path: '/data/db.url', value: 'cG9zdGdyZXM=' },
          { op: 'add', path: '/stringData', value: { pin: '1234' } },
          { op: 'replace', path: '/metadata/labels/app', value: 'api' },
        ] as unknown as AuditEvent['requestObject'],
      }),
    );
    assert.deepEqual(json.requestObject, [
      { op: 'replace', path: '/data/db.url', value: MASK },
      { op: 'add', path: '/stringData', value: { pin: MASK } },
      { op: 'replace', path: '/metadata/labels/app', value: 'api' },
    ]);
    // a ConfigMap's data is not secret
    const cm = maskCredentials(
      event({
        objectRef: { resource: 'configmaps', namespace: 'a', name: 'c', apiVersion: 'v1' },
        requestObject: { kind: 'ConfigMap', data: { 'app.conf': 'port=80' } },
      }),
    );
    assert.deepEqual(cm.requestObject, { kind: 'ConfigMap', data: { 'app.conf': 'port=80' } });
  });

  test("kubectl's last-applied-configuration of a Secret is masked inside its JSON text; others stay byte for byte", () => {
    const applied = `${JSON.stringify(secret())}\n`;
    const cmApplied = `${JSON.stringify({ kind: 'ConfigMap', data: { a: 'b' } })}\n`;
    const e = maskCredentials(
      event({
        objectRef: { resource: 'deployments', namespace: 'a', name: 'x', apiVersion: 'v1', apiGroup: 'apps' },
        requestObject: {
          kind: 'List',
          items: [
            {
              kind: 'Secret',
              metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': applied } },
              data: { k: 'djE=' },
            },
            {
              kind: 'ConfigMap',
              metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': cmApplied } },
            },
          ],
        },
      }),
    );
    const items = (
      e.requestObject as { items: { metadata: { annotations: Record<string, string> }; data?: unknown }[] }
    ).items;
    const text = items[0]!.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'] as string;
    assert.ok(text.endsWith('\n'));
    assert.deepEqual(JSON.parse(text).data, { 'tls.crt': MASK, 'tls.key': MASK });
    assert.equal(JSON.parse(text).metadata.name, 'tls');
    assert.ok(!text.includes('c2VjcmV0LWtleQ=='));
    assert.deepEqual(items[0]!.data, { k: MASK });
    assert.equal(items[1]!.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], cmApplied);
    // masking again changes nothing
    assert.deepEqual(maskCredentials(structuredClone(e)), e);
  });

  test('a secret name spelled with \\u escapes in a last-applied-configuration is still found', () => {
    const applied = '{"kind":"ConfigMap","data":{"\\u0070assword":"hunter2"}}';
    const e = maskCredentials(
      event({
        objectRef: { resource: 'configmaps', namespace: 'a', name: 'c', apiVersion: 'v1' },
        requestObject: { metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': applied } } },
      }),
    );
    const annotations = (e.requestObject as { metadata: { annotations: Record<string, string> } }).metadata.annotations;
    assert.deepEqual(JSON.parse(annotations['kubectl.kubernetes.io/last-applied-configuration']!), {
      kind: 'ConfigMap',
      data: { password: MASK },
    });
  });

  test('a last-applied-configuration that is not JSON stays as written but for Bearer/Basic credentials', () => {
    const broken = '{"kind":"Secret","data":{"k": Authorization: Bearer abcDEF123456789';
    const e = maskCredentials(
      event({
        objectRef: { resource: 'configmaps', namespace: 'a', name: 'c', apiVersion: 'v1' },
        requestObject: { metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': broken } } },
      }),
    );
    const annotations = (e.requestObject as { metadata: { annotations: Record<string, string> } }).metadata.annotations;
    assert.equal(
      annotations['kubectl.kubernetes.io/last-applied-configuration'],
      '{"kind":"Secret","data":{"k": Authorization: Bearer ***',
    );
  });
});
