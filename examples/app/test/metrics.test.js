'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Registry, Counter, Histogram, Gauge, CONTENT_TYPE } = require('../src/metrics');
const { createAppMetrics, DURATION_BUCKETS, methodLabel } = require('../src/app-metrics');

test('counters render HELP, TYPE and one line per label set', () => {
  const registry = new Registry();
  const c = registry.register(new Counter('jobs_total', 'Jobs done.', ['kind']));
  c.inc({ kind: 'a' });
  c.inc({ kind: 'a' }, 2);
  c.inc({ kind: 'b' });
  assert.equal(registry.render(), [
    '# HELP jobs_total Jobs done.',
    '# TYPE jobs_total counter',
    'jobs_total{kind="a"} 3',
    'jobs_total{kind="b"} 1',
    '',
  ].join('\n'));
  assert.throws(() => c.inc({ kind: 'a' }, -1), /only go up/);
  assert.throws(() => c.inc({}), /missing label "kind"/);
});

test('label values escape backslash, double quote and newline', () => {
  const c = new Counter('x_total', 'Help with \\ and\nnewline.', ['v']);
  c.inc({ v: 'a\\b"c\nd' });
  const lines = c.render();
  assert.equal(lines[0], '# HELP x_total Help with \\\\ and\\nnewline.');
  assert.equal(lines[2], 'x_total{v="a\\\\b\\"c\\nd"} 1');
});

test('histogram buckets are cumulative, with +Inf, _sum and _count', () => {
  const h = new Histogram('latency_seconds', 'Latency.', ['route'], [0.1, 0.5, 1]);
  for (const v of [0.05, 0.1, 0.3, 0.7, 3]) h.observe({ route: '/x' }, v);
  assert.deepEqual(h.render().slice(2), [
    'latency_seconds_bucket{route="/x",le="0.1"} 2',
    'latency_seconds_bucket{route="/x",le="0.5"} 3',
    'latency_seconds_bucket{route="/x",le="1"} 4',
    'latency_seconds_bucket{route="/x",le="+Inf"} 5',
    'latency_seconds_sum{route="/x"} 4.15',
    'latency_seconds_count{route="/x"} 5',
  ]);
});

test('gauges are read at scrape time', () => {
  let value = 1;
  const g = new Gauge('temperature', 'Now.', [], () => [{ value }]);
  assert.equal(g.render()[2], 'temperature 1');
  value = 2;
  assert.equal(g.render()[2], 'temperature 2');
});

test('a metric name can be registered only once', () => {
  const registry = new Registry();
  registry.register(new Counter('a_total', 'A.'));
  assert.throws(() => registry.register(new Counter('a_total', 'A.')), /registered twice/);
});

test('app metrics: request counter, duration histogram, build info and process gauges', () => {
  const metrics = createAppMetrics({ version: '1.2.3', revision: 'abc', startedAt: new Date(1700000000500) });
  metrics.observeRequest({ method: 'GET', route: '/api/notes/:id', status: 200, durationSeconds: 0.02 });
  metrics.observeRequest({ method: 'BREW', route: 'unmatched', status: 404, durationSeconds: 0.001 });
  const text = metrics.render();
  assert.match(text, /^http_requests_total\{method="GET",route="\/api\/notes\/:id",status="200"\} 1$/m);
  assert.match(text, /^http_requests_total\{method="other",route="unmatched",status="404"\} 1$/m);
  assert.match(text, /^# TYPE http_request_duration_seconds histogram$/m);
  const les = [...text.matchAll(/http_request_duration_seconds_bucket\{method="GET",route="\/api\/notes\/:id",le="([^"]+)"\} (\d+)/g)];
  assert.deepEqual(les.map((m) => m[1]), ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
  assert.deepEqual(les.map((m) => Number(m[2])), [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  assert.match(text, /^http_request_duration_seconds_count\{method="GET",route="\/api\/notes\/:id"\} 1$/m);
  assert.match(text, new RegExp(`^app_build_info\\{version="1.2.3",revision="abc",node_version="${process.version}"\\} 1$`, 'm'));
  assert.match(text, /^process_start_time_seconds 1700000000$/m);
  assert.match(text, /^process_resident_memory_bytes \d+$/m);
  assert.match(text, /^nodejs_heap_used_bytes \d+$/m);
  assert.ok(text.endsWith('\n'));
});

test('exposition constants', () => {
  assert.equal(CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
  assert.deepEqual(DURATION_BUCKETS, [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  assert.equal(methodLabel('DELETE'), 'DELETE');
  assert.equal(methodLabel('PROPFIND'), 'other');
});
