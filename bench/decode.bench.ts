// Decoding a Kubernetes webhook EventList into canonical events vs. JSON.parse of the same bytes (the baseline):
// the decode must cost at most 1.5× the parse. Events are the 51 real falco fixtures, written as kube-apiserver
// v1 EventList items and replicated (with distinct auditIDs) to a few thousand.
import { readFileSync } from 'node:fs';
import { decodeEventList, decodeKubernetesEvent, encodeEventList } from '../src/event/index.ts';

const COPIES = 80; // 51 × 80 = 4080 events
const WARMUP = 30;
const ROUNDS = 61;

const lines = readFileSync(new URL('../test/fixtures/falco/k8saudit-events.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter(Boolean);
const base = lines.map((l) => decodeKubernetesEvent(JSON.parse(l)));
const events = [];
for (let c = 0; c < COPIES; c++) {
  for (const e of base) events.push({ ...e, auditID: `${e.auditID.slice(0, 28)}${String(c).padStart(8, '0')}` });
}
const text = JSON.stringify(encodeEventList(events));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const gc = (globalThis as { gc?: () => void }).gc;
let sink = 0;
function time(fn: () => unknown): number {
  gc?.();
  const t0 = performance.now();
  const r = fn() as { items?: unknown[]; length?: number };
  const t = performance.now() - t0;
  sink += r.length ?? r.items?.length ?? 0;
  return t;
}

const parse = () => JSON.parse(text);
const decode = () => decodeEventList(text);
for (let i = 0; i < WARMUP; i++) {
  time(parse);
  time(decode);
}
const parseMs: number[] = [];
const decodeMs: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  // Alternate so drift (thermal, other load) hits both alike.
  parseMs.push(time(parse));
  decodeMs.push(time(decode));
}
const p = median(parseMs);
const d = median(decodeMs);
// The median of per-round ratios: each pair ran back to back, so load from other processes mostly cancels out.
const ratio = median(decodeMs.map((x, i) => x / parseMs[i]));
console.log(
  `events: ${events.length}, body: ${(text.length / 1024 / 1024).toFixed(2)} MiB, rounds: ${ROUNDS} (median)`,
);
console.log(`JSON.parse (baseline): ${p.toFixed(2)} ms  (${((events.length / p) * 1000).toFixed(0)} events/s)`);
console.log(`decodeEventList:       ${d.toFixed(2)} ms  (${((events.length / d) * 1000).toFixed(0)} events/s)`);
console.log(`ratio of medians:      ${(d / p).toFixed(3)}`);
console.log(`median paired ratio:   ${ratio.toFixed(3)}  (target ≤ 1.5: ${ratio <= 1.5 ? 'met' : 'NOT met'})`);
if (sink === 0) console.log('(no work done?)');
