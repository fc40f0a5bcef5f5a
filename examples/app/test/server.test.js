'use strict';
// Runs src/server.js as a real process with no database (development mode).
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const { request } = require('./helpers');

const SERVER = path.join(__dirname, '..', 'src', 'server.js');
const BASE_ENV = { PATH: process.env.PATH, NODE_ENV: 'development', PORT: '0', LOG_LEVEL: 'debug' };

// Spawns the server; resolves once it logs "listening" (or exits first).
function run(env = {}) {
  const child = spawn(process.execPath, [SERVER], { env: { ...BASE_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs = [];
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop();
    for (const line of lines) {
      const entry = JSON.parse(line);
      logs.push(entry);
      if (entry.msg === 'listening') child.emit('listening', entry.port);
    }
  });
  const exited = once(child, 'exit').then(([code]) => code);
  const listening = Promise.race([once(child, 'listening').then(([port]) => port), exited.then(() => null)]);
  return { child, logs, exited, listening };
}

async function start(t, env) {
  const server = run(env);
  t.after(() => server.child.kill('SIGKILL'));
  const port = await server.listening;
  assert.ok(port, 'server did not start');
  return { ...server, port };
}

test('serves /healthz, /version, /metrics and a JSON 404 without any dependency', async (t) => {
  const { port } = await start(t);
  const health = await request(port, { path: '/healthz' });
  assert.equal(health.status, 200);
  assert.deepEqual(health.json(), { status: 'ok' });

  const version = (await request(port, { path: '/version' })).json();
  assert.equal(version.node_version, process.version);
  assert.equal(typeof version.version, 'string');

  const missing = await request(port, { path: '/missing' });
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json(), { error: 'not found' });

  const metrics = await request(port, { path: '/metrics' });
  assert.match(metrics.text, /^http_requests_total\{method="GET",route="\/healthz",status="200"\} 1$/m);
  assert.match(metrics.text, /^http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m);
  assert.match(metrics.text, /^process_start_time_seconds \d+$/m);

  const ready = await request(port, { path: '/readyz' });
  assert.equal(ready.status, 503);
});

test('SIGTERM lets an in-flight slow request finish, then exits 0', async (t) => {
  const server = await start(t, { FAULT_LATENCY_MS: '700' });
  const slow = request(server.port, { path: '/api/login', method: 'POST', body: { username: 'alice' } });
  await new Promise((resolve) => { setTimeout(resolve, 200); });
  server.child.kill('SIGTERM');

  const res = await slow;
  assert.equal(res.status, 200);
  assert.ok(res.json().token);
  assert.equal(await server.exited, 0);
  const messages = server.logs.map((e) => e.msg);
  const phases = [
    'shutdown: started, /readyz now answers 503',
    'shutdown: stopped accepting connections, closed idle ones, waiting for in-flight requests',
    'request',
    'shutdown: all connections closed',
    'shutdown: complete, exiting with status 0',
  ];
  assert.deepEqual(messages.filter((m) => phases.includes(m)).slice(-phases.length), phases);
  assert.equal(server.logs.find((e) => e.msg.startsWith('shutdown: stopped')).in_flight, 1);
  await assert.rejects(request(server.port, { path: '/healthz' }), /ECONNREFUSED/);
});

test('requests that outlast SHUTDOWN_TIMEOUT_MS make the process exit 1', async (t) => {
  const server = await start(t, { FAULT_LATENCY_MS: '5000', SHUTDOWN_TIMEOUT_MS: '300' });
  request(server.port, { path: '/api/notes' }).catch(() => {});
  await new Promise((resolve) => { setTimeout(resolve, 100); });
  const started = Date.now();
  server.child.kill('SIGINT');
  assert.equal(await server.exited, 1);
  assert.ok(Date.now() - started < 3000);
  assert.ok(server.logs.some((e) => e.level === 'error' && /did not finish in time/.test(e.msg)));
});

test('production without JWT_SECRET exits 78 naming it', async () => {
  const server = run({
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://app:very-secret-pw@127.0.0.1:1/app',
    REDIS_URL: 'redis://127.0.0.1:1',
  });
  assert.equal(await server.exited, 78);
  const errors = server.logs.filter((e) => e.level === 'error');
  assert.deepEqual(errors.map((e) => e.variable), ['JWT_SECRET', undefined]);
  assert.match(errors[0].msg, /^JWT_SECRET is not set/);
  assert.ok(!JSON.stringify(server.logs).includes('very-secret-pw'));
});

test('FAULT_CRASH_AT_START=1 logs and exits 1', async () => {
  const server = run({ FAULT_CRASH_AT_START: '1' });
  assert.equal(await server.exited, 1);
  assert.match(server.logs[0].msg, /FAULT_CRASH_AT_START/);
});
