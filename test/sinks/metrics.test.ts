import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from '../../src/metrics/registry.ts';
import { SinkMetrics } from '../../src/sinks/metrics.ts';

test('the registry renders Prometheus text format with escaped labels', () => {
  const r = new Registry();
  const c = r.counter('x_total', 'Things\ncounted.');
  c.inc({ sink: 'a"b\\c' }, 2);
  c.inc();
  r.gauge('g', 'A gauge.').set(undefined, 1.5);
  const h = r.histogram('d_seconds', 'Durations.', [0.1, 1]);
  h.observe({ sink: 's' }, 0.5);
  h.observe({ sink: 's' }, 2);
  assert.equal(
    r.render(),
    [
      '# HELP x_total Things\\ncounted.',
      '# TYPE x_total counter',
      'x_total{sink="a\\"b\\\\c"} 2',
      'x_total 1',
      '# HELP g A gauge.',
      '# TYPE g gauge',
      'g 1.5',
      '# HELP d_seconds Durations.',
      '# TYPE d_seconds histogram',
      'd_seconds_bucket{sink="s",le="0.1"} 0',
      'd_seconds_bucket{sink="s",le="1"} 1',
      'd_seconds_bucket{sink="s",le="+Inf"} 2',
      'd_seconds_sum{sink="s"} 2.5',
      'd_seconds_count{sink="s"} 2',
      '',
    ].join('\n'),
  );
  assert.equal(r.counter('x_total', 'again'), c, 'same name, same family');
  assert.throws(() => r.gauge('x_total', 'clash'), /already registered as a counter/);
  assert.throws(() => c.inc(undefined, -1), /cannot decrease/);
  // A series resolved once adds to the same sample as inc() with the same labels.
  const s = c.series({ sink: 'a"b\\c' });
  s.inc();
  s.inc(4);
  assert.equal(c.get({ sink: 'a"b\\c' }), 7);
  assert.throws(() => s.inc(-1), /cannot decrease/);
});

test('sink metrics share families across sinks, one series per sink', () => {
  const r = new Registry();
  const a = new SinkMetrics('a', r);
  const b = new SinkMetrics('b', r);
  a.events(3);
  b.events(1);
  a.dropped('spool_full', 2);
  assert.equal(a.snapshot().events, 3);
  assert.equal(a.snapshot().dropped.spool_full, 2);
  assert.equal(b.snapshot().dropped.spool_full, 0);
  const text = r.render();
  assert.match(text, /vigil_sink_events_total\{sink="a"\} 3/);
  assert.match(text, /vigil_sink_events_total\{sink="b"\} 1/);
  assert.match(text, /vigil_sink_dropped_events_total\{reason="spool_full",sink="a"\} 2/);
});
