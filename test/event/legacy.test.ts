import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { type AuditEvent, EventValidationError, formatLegacyLine, parseLegacyLine } from '../../src/event/index.ts';
import { goQuote, goUnquote } from '../../src/event/legacy.ts';

const seedLines = () =>
  readFileSync(new URL('../fixtures/k8s-legacy.log', import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean);

test('the seed lines (pre-1.7 two-line form and the 1.7 form) round-trip byte-exactly', () => {
  const lines = seedLines();
  assert.equal(lines.length, 4);
  for (const line of lines) assert.equal(formatLegacyLine(parseLegacyLine(line)), line);
});

test('pre-1.7 request line: stage RequestReceived, HTTP method lower-cased into verb, offset time to UTC', () => {
  const e = parseLegacyLine(seedLines()[0]);
  assert.deepStrictEqual(e, {
    level: 'Metadata',
    auditID: 'c939d2a7-1c37-4ef1-b2f7-4ba9b1e43b53',
    stage: 'RequestReceived',
    requestURI: '/api/v1/namespaces/default/pods',
    verb: 'get',
    user: { username: 'admin', groups: ['system:masters', 'system:authenticated'] },
    sourceIPs: ['127.0.0.1'],
    objectRef: { namespace: 'default' },
    requestReceivedTimestamp: '2017-03-21T07:57:09.106841Z',
    stageTimestamp: '2017-03-21T07:57:09.106841Z',
    source: 'kubernetes',
    origin: {
      legacy: {
        timestamp: '2017-03-21T03:57:09.106841886-04:00',
        fields: ['id', 'ip', 'method', 'user', 'groups', 'as', 'asgroups', 'namespace', 'uri'],
        method: 'GET',
      },
    },
  });
});

test('pre-1.7 response-only line is a ResponseComplete event with its status code', () => {
  const e = parseLegacyLine(seedLines()[1]);
  assert.equal(e.stage, 'ResponseComplete');
  assert.equal(e.auditID, 'c939d2a7-1c37-4ef1-b2f7-4ba9b1e43b53');
  assert.deepStrictEqual(e.responseStatus, { metadata: {}, code: 200 });
  assert.equal(e.stageTimestamp, '2017-03-21T07:57:09.108403Z');
  assert.equal(e.requestReceivedTimestamp, e.stageTimestamp);
  assert.equal(e.verb, '');
  assert.equal(e.requestURI, '');
  assert.deepStrictEqual(e.user, {});
});

test('the 1.7 form: stage present, no user-agent, response <deferred> means no status', () => {
  const [, , req, resp] = seedLines().map(parseLegacyLine);
  assert.equal(req.stage, 'RequestReceived');
  assert.equal(req.responseStatus, undefined);
  assert.equal(resp.stage, 'ResponseComplete');
  assert.equal(resp.responseStatus?.code, 200);
  assert.equal(req.verb, 'update');
  assert.deepStrictEqual(req.user.groups, [
    'system:serviceaccounts',
    'system:serviceaccounts:kube-system',
    'system:authenticated',
  ]);
  // Nanoseconds beyond MicroTime are kept only as the written time, for formatting back.
  assert.equal(req.requestReceivedTimestamp, '2017-06-15T21:50:50.259470Z');
  assert.equal(req.origin?.legacy?.timestamp, '2017-06-15T21:50:50.259470834Z');
});

function event(over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    level: 'RequestResponse',
    auditID: 'a1',
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods?limit=500',
    verb: 'list',
    user: { username: 'admin', groups: ['system:masters'] },
    sourceIPs: ['10.0.0.1', '10.0.0.2'],
    userAgent: 'kubectl/v1.30.0',
    objectRef: { resource: 'pods', namespace: 'default' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2024-05-01T10:00:00.120000Z',
    stageTimestamp: '2024-05-01T10:00:01.000000Z',
    source: 'kubernetes',
    ...over,
  };
}

test("today's line: EventString exactly, with requestReceivedTimestamp in RFC3339Nano", () => {
  assert.equal(
    formatLegacyLine(event()),
    '2024-05-01T10:00:00.12Z AUDIT: id="a1" stage="ResponseComplete" ip="10.0.0.1" method="list" user="admin" ' +
      'groups="\\"system:masters\\"" as="<self>" asgroups="<lookup>" user-agent="kubectl/v1.30.0" ' +
      'namespace="default" uri="/api/v1/namespaces/default/pods?limit=500" response="200"',
  );
  assert.equal(
    formatLegacyLine(
      event({
        user: {},
        sourceIPs: undefined,
        userAgent: undefined,
        objectRef: undefined,
        responseStatus: undefined,
        requestReceivedTimestamp: '2024-05-01T10:00:00.000000Z',
      }),
    ),
    '2024-05-01T10:00:00Z AUDIT: id="a1" stage="ResponseComplete" ip="<unknown>" method="list" user="<none>" ' +
      'groups="<none>" as="<self>" asgroups="<lookup>" user-agent="" namespace="<none>" ' +
      'uri="/api/v1/namespaces/default/pods?limit=500" response="<deferred>"',
  );
});

test('the time can be written in a zone, as an apiserver on a non-UTC host does', () => {
  const e = event({ requestReceivedTimestamp: '2017-03-21T07:57:09.106841Z' });
  assert.ok(formatLegacyLine(e, { zone: -240 }).startsWith('2017-03-21T03:57:09.106841-04:00 AUDIT: '));
  assert.ok(formatLegacyLine(e, { zone: 330 }).startsWith('2017-03-21T13:27:09.106841+05:30 AUDIT: '));
  assert.ok(formatLegacyLine(e, { zone: 0 }).startsWith('2017-03-21T07:57:09.106841Z AUDIT: '));
  const local = formatLegacyLine(e, { zone: 'local' });
  assert.equal(parseLegacyLine(local).requestReceivedTimestamp, e.requestReceivedTimestamp);
  // A kept original text wins while it denotes the same instant.
  const parsed = parseLegacyLine(formatLegacyLine(e, { zone: -240 }));
  assert.ok(formatLegacyLine(parsed).startsWith('2017-03-21T03:57:09.106841-04:00 '));
  assert.ok(
    formatLegacyLine({ ...parsed, requestReceivedTimestamp: '2017-03-21T07:57:10.000000Z' }).startsWith(
      '2017-03-21T07:57:10Z ',
    ),
  );
});

test('parse(format(e)) keeps everything the line carries, and nothing else', () => {
  const e = event({ impersonatedUser: { username: 'bob', groups: ['dev', 'ops'] } });
  const back = parseLegacyLine(formatLegacyLine(e));
  assert.deepStrictEqual(back, {
    level: 'Metadata', // the line has no level
    auditID: e.auditID,
    stage: e.stage,
    requestURI: e.requestURI,
    verb: e.verb,
    user: e.user,
    impersonatedUser: e.impersonatedUser,
    sourceIPs: ['10.0.0.1'], // only the first IP is written
    userAgent: e.userAgent,
    objectRef: { namespace: 'default' }, // only the namespace
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: e.requestReceivedTimestamp,
    stageTimestamp: e.requestReceivedTimestamp, // the line has one time
    source: 'kubernetes',
  });
});

test('quoting edge cases: quotes, backslashes, control and non-ASCII characters, empty groups', () => {
  const e = event({
    auditID: 'id "quoted" \\ back',
    requestURI: '/api?q="x"&y=\\z',
    user: { username: 'jöse 😀', groups: ['a"b', 'c\\d', 'ünï', ''] },
    impersonatedUser: { username: '', groups: [] },
    userAgent: 'tab\there\nnewline \u0000 \u007f \u00a0 \u200b \u{e0001}',
  });
  const line = formatLegacyLine(e);
  assert.ok(line.includes(' id="id \\"quoted\\" \\\\ back" '), line);
  assert.ok(line.includes(' user="jöse 😀" '), line); // printable non-ASCII stays as is (%q, not %+q)
  assert.ok(line.includes(' groups="\\"a\\\\\\"b\\",\\"c\\\\\\\\d\\",\\"ünï\\",\\"\\"" '), line);
  assert.ok(line.includes(' as="" asgroups="" '), line); // impersonated with empty (non-nil) groups
  assert.ok(line.includes(' user-agent="tab\\there\\nnewline \\x00 \\x7f \\u00a0 \\u200b \\U000e0001" '), line);
  assert.ok(!line.includes('\n'));
  const back = parseLegacyLine(line);
  assert.equal(back.auditID, e.auditID);
  assert.equal(back.requestURI, e.requestURI);
  assert.deepStrictEqual(back.user, e.user);
  assert.deepStrictEqual(back.impersonatedUser, { username: '', groups: [] });
  assert.equal(back.userAgent, e.userAgent);
  assert.equal(formatLegacyLine(back), line);
});

test('Go unquoting: octal, \\x bytes forming UTF-8, \\u and \\U', () => {
  assert.equal(goUnquote('"\\101\\x42\\u00e9\\U0001F600\\xe2\\x82\\xac\\a\\v"', 0, 'f').value, 'ABé😀€\x07\v');
  assert.equal(goQuote('\u0007\b\f\r\v'), '"\\a\\b\\f\\r\\v"');
  assert.equal(goQuote('\ud800'), '"\\ufffd"'); // a lone surrogate is not UTF-8
});

test('malformed lines are rejected naming the field', () => {
  const bad: [string, string, RegExp][] = [
    ['no marker here', '', /not a legacy audit line/],
    ['yesterday AUDIT: id="x"', 'timestamp', /is not a timestamp/],
    ['2024-01-01T00:00:00Z AUDIT: id="x" stage="Done"', 'stage', /"Done" is not one of RequestReceived/],
    ['2024-01-01T00:00:00Z AUDIT: id="x" colour="red"', 'colour', /unknown legacy audit field/],
    ['2024-01-01T00:00:00Z AUDIT: id="x', 'id', /unterminated/],
    ['2024-01-01T00:00:00Z AUDIT: id=x', 'id', /double-quoted/],
    ['2024-01-01T00:00:00Z AUDIT: id="\\q"', 'id', /unknown escape \\q/],
    ['2024-01-01T00:00:00Z AUDIT: id="x" response="OK"', 'response', /not a status code/],
    ['2024-01-01T00:00:00Z AUDIT: stage="Panic"', 'id', /required/],
    ['2024-01-01T00:00:00Z AUDIT: id="x" user="u" groups="a,b"', 'groups', /double-quoted/],
    ['2024-01-01T00:00:00Z AUDIT: id="x"ip="1"', 'id', /expected a space/],
  ];
  for (const [line, field, why] of bad) {
    assert.throws(
      () => parseLegacyLine(line),
      (err: unknown) => err instanceof EventValidationError && err.field === field && why.test(err.message),
      line,
    );
  }
});

test('property: any strings survive format → parse (Go quoting is its own inverse)', () => {
  const text = fc.string({ unit: 'binary', maxLength: 30 });
  fc.assert(
    fc.property(
      text.filter((s) => s.length > 0),
      text.filter((s) => s.length > 0 && s !== '<none>'),
      fc.array(text, { maxLength: 4 }),
      text,
      text,
      (auditID, username, groups, userAgent, requestURI) => {
        const e = event({ auditID, user: { username, groups }, userAgent, requestURI });
        const line = formatLegacyLine(e);
        assert.ok(!line.includes('\n'));
        const back = parseLegacyLine(line);
        assert.equal(back.auditID, auditID);
        assert.equal(back.user.username, username);
        assert.deepStrictEqual(back.user.groups ?? [], groups);
        assert.equal(back.userAgent ?? '', userAgent);
        assert.equal(back.requestURI, requestURI);
        assert.equal(formatLegacyLine(back), line);
      },
    ),
    { numRuns: 300 },
  );
});
