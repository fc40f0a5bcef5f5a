'use strict';
// The metrics this service exposes on /metrics.
const { Registry, Counter, Histogram, Gauge } = require('./metrics');

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

// Label values must come from a small fixed set, or every odd request a
// scanner sends would create a new time series.
function methodLabel(method) {
  return KNOWN_METHODS.has(method) ? method : 'other';
}

function createAppMetrics({ version, revision, startedAt }) {
  const registry = new Registry();
  const requests = registry.register(new Counter(
    'http_requests_total', 'HTTP requests handled, by method, route template and status code.',
    ['method', 'route', 'status'],
  ));
  const duration = registry.register(new Histogram(
    'http_request_duration_seconds', 'Time from receiving a request to finishing its response.',
    ['method', 'route'], DURATION_BUCKETS,
  ));
  registry.register(new Gauge(
    'app_build_info', 'Build of the running service; the value is always 1.',
    ['version', 'revision', 'node_version'],
    () => [{ labels: { version, revision, node_version: process.version }, value: 1 }],
  ));
  registry.register(new Gauge(
    'process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.', [],
    () => [{ value: Math.floor(startedAt.getTime() / 1000) }],
  ));
  registry.register(new Gauge(
    'process_resident_memory_bytes', 'Resident memory size in bytes.', [],
    () => [{ value: process.memoryUsage().rss }],
  ));
  registry.register(new Gauge(
    'nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', [],
    () => [{ value: process.memoryUsage().heapUsed }],
  ));

  return {
    render: () => registry.render(),
    observeRequest({ method, route, status, durationSeconds }) {
      const m = methodLabel(method);
      requests.inc({ method: m, route, status });
      duration.observe({ method: m, route }, durationSeconds);
    },
  };
}

module.exports = { createAppMetrics, DURATION_BUCKETS, methodLabel };
