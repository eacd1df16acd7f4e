// Masking credentials (`maskCredentials`, run on every ingested and every captured event) over the 51 real Falco
// events replicated to 4080 (bodies included), against JSON.stringify of the same events (the baseline: every
// stored event is serialized once). Each round masks fresh copies. With VIGIL_BENCH_MASK_BEFORE=<module path>
// (e.g. an older src/event/mask.ts copied beside it), that module's maskCredentials is timed in alternate rounds
// too, for a before/after in one process.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AuditEvent, decodeKubernetesEvent, maskCredentials } from '../src/event/index.ts';

type Mask = (e: AuditEvent) => AuditEvent;

const COPIES = 80; // 51 × 80 = 4080 events
const WARMUP = 10;
const ROUNDS = 41;

const lines = readFileSync(new URL('../test/fixtures/falco/k8saudit-events.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter(Boolean);
const base = lines.map((l) => decodeKubernetesEvent(JSON.parse(l)));
const events: AuditEvent[] = [];
for (let c = 0; c < COPIES; c++)
  for (const e of base) events.push({ ...structuredClone(e), auditID: `${e.auditID}-${c}` });
// `kubectl exec` calls, whose arguments travel in the query (kubernetes#97795): the query scan's worst common case.
const execs: AuditEvent[] = events.map((e, i) => ({
  ...e,
  requestURI: `/api/v1/namespaces/ns${i % 7}/pods/web-${i}/exec?command=%2Fbin%2Fsh&command=-c&command=ls+-la+%2Ftmp&container=app&stderr=true&stdout=true`,
}));

const beforePath = process.env.VIGIL_BENCH_MASK_BEFORE;
const before: Mask | undefined = beforePath
  ? // relative to where `npm run bench` was started (the bench itself runs in bench/)
    (
      (await import(pathToFileURL(resolve(process.env.INIT_CWD ?? process.cwd(), beforePath)).href)) as {
        maskCredentials: Mask;
      }
    ).maskCredentials
  : undefined;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const gc = (globalThis as { gc?: () => void }).gc;
let sink = 0;
function time(fn: () => void): number {
  gc?.();
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}
/** ms to mask fresh copies of `set` with `mask` (the copying is not timed). */
function masking(set: AuditEvent[], mask: Mask): number {
  const copies = structuredClone(set);
  return time(() => {
    for (const e of copies) sink += mask(e).requestURI.length;
  });
}
const stringify = () =>
  time(() => {
    for (const e of events) sink += JSON.stringify(e).length;
  });

const runs: Record<string, number[]> = { stringify: [], after: [], afterExec: [], before: [], beforeExec: [] };
for (let i = 0; i < WARMUP + ROUNDS; i++) {
  // Alternate so that drift (thermal, other load) hits each alike.
  const round = {
    stringify: stringify(),
    after: masking(events, maskCredentials),
    afterExec: masking(execs, maskCredentials),
    ...(before ? { before: masking(events, before), beforeExec: masking(execs, before) } : {}),
  };
  if (i >= WARMUP) for (const [k, v] of Object.entries(round)) runs[k]!.push(v);
}
const us = (ms: number) => `${((ms * 1000) / events.length).toFixed(2)} µs/event`;
const paired = (a: number[], b: number[]) => median(a.map((x, i) => x / b[i]!));
console.log(`events: ${events.length}, rounds: ${ROUNDS} (median)`);
console.log(`JSON.stringify (baseline): ${us(median(runs.stringify))}`);
console.log(
  `maskCredentials:           ${us(median(runs.after))}  (×${paired(runs.after, runs.stringify).toFixed(3)} of the baseline)`,
);
console.log(`  the same with exec URIs: ${us(median(runs.afterExec))}`);
if (before) {
  console.log(`before (${beforePath}):`);
  console.log(
    `  maskCredentials:         ${us(median(runs.before))}  (after/before, paired: ×${paired(runs.after, runs.before).toFixed(3)})`,
  );
  console.log(
    `  with exec URIs:          ${us(median(runs.beforeExec))}  (after/before, paired: ×${paired(runs.afterExec, runs.beforeExec).toFixed(3)})`,
  );
}
if (sink === 0) console.log('(no work done?)');
