'use strict';
// The HTTP API in-process, with in-memory stand-ins for PostgreSQL, Redis
// and Sentry.
const test = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const { loadConfig } = require('../src/config');
const { createHttpServer } = require('../src/http-server');
const { MAX_BODY_BYTES } = require('../src/http-helpers');
const { request, memoryLogger } = require('./helpers');

const JWT_SECRET = 'test-secret-with-at-least-32-chars';

// Understands exactly the statements the app sends.
function fakeDb() {
  const notes = [];
  let nextId = 1;
  return {
    failWith: null,
    async query(sql, values) {
      if (this.failWith) throw this.failWith;
      if (sql === 'SELECT 1') return { rows: [{ '?column?': 1 }], rowCount: 1 };
      if (sql.startsWith('INSERT')) {
        const [title, body, author] = values;
        const note = { id: nextId++, title, body, author, created_at: new Date() };
        notes.push(note);
        return { rows: [note], rowCount: 1 };
      }
      if (sql.startsWith('DELETE')) {
        const i = notes.findIndex((n) => String(n.id) === values[0]);
        if (i !== -1) notes.splice(i, 1);
        return { rows: [], rowCount: i === -1 ? 0 : 1 };
      }
      if (sql.includes('WHERE id = $1')) {
        const rows = notes.filter((n) => String(n.id) === values[0]);
        return { rows, rowCount: rows.length };
      }
      return { rows: [...notes].reverse(), rowCount: notes.length };
    },
  };
}

function fakeRedis() {
  const data = new Map();
  return {
    ping: async () => 'PONG',
    get: async (key) => data.get(key) ?? null,
    set: async (key, value) => { data.set(key, value); return 'OK'; },
    del: async (key) => Number(data.delete(key)),
  };
}

async function startApp(t, { env = {}, db = fakeDb(), redis = fakeRedis(), sentry = null } = {}) {
  const { config, errors } = loadConfig({ JWT_SECRET, ...env }, { version: '1.0.0', revision: 'abc1234', build_date: '2024-01-01' });
  assert.deepEqual(errors, []);
  const logger = memoryLogger();
  const { server, state } = createHttpServer({ config, logger, db, redis, sentry });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address();
  return { port, server, state, logger, db, call: (path, options = {}) => request(port, { path, ...options }) };
}

async function login(app, username = 'alice') {
  const res = await app.call('/api/login', { method: 'POST', body: { username } });
  assert.equal(res.status, 200);
  return { Authorization: `Bearer ${res.json().token}` };
}

test('/healthz answers 200 {"status":"ok"}', async (t) => {
  const app = await startApp(t);
  const res = await app.call('/healthz');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json(), { status: 'ok' });
  assert.match(res.headers['content-type'], /^application\/json/);
});

test('/readyz is 200 only when the database and Redis both answer', async (t) => {
  const app = await startApp(t);
  const ok = await app.call('/readyz');
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json(), { status: 'ok', checks: { database: 'ok', redis: 'ok' } });

  app.db.failWith = new Error('connect ECONNREFUSED 127.0.0.1:5432');
  const down = await app.call('/readyz');
  assert.equal(down.status, 503);
  assert.deepEqual(down.json().checks, { database: 'failed: connect ECONNREFUSED 127.0.0.1:5432', redis: 'ok' });
  assert.ok(app.logger.entries.some((e) => e.level === 'warn' && e.msg === 'not ready'));
});

test('/readyz reports a Redis that does not answer in time', async (t) => {
  const redis = { ...fakeRedis(), ping: () => new Promise(() => {}) };
  const app = await startApp(t, { redis });
  const res = await app.call('/readyz');
  assert.equal(res.status, 503);
  assert.deepEqual(res.json().checks, { database: 'ok', redis: 'failed: no answer within 2000 ms' });
});

test('/readyz is 503 without configured dependencies and while shutting down', async (t) => {
  const bare = await startApp(t, { db: null, redis: null });
  const res = await bare.call('/readyz');
  assert.equal(res.status, 503);
  assert.deepEqual(res.json().checks, { database: 'not configured', redis: 'not configured' });

  const app = await startApp(t);
  app.state.shuttingDown = true;
  const closing = await app.call('/readyz');
  assert.equal(closing.status, 503);
  assert.deepEqual(closing.json(), { status: 'shutting_down' });
  assert.equal(closing.headers.connection, 'close');
});

test('/version reports the build and start time', async (t) => {
  const app = await startApp(t);
  const body = (await app.call('/version')).json();
  assert.deepEqual(Object.keys(body), ['version', 'revision', 'build_date', 'node_version', 'started_at']);
  assert.equal(body.version, '1.0.0');
  assert.equal(body.revision, 'abc1234');
  assert.equal(body.build_date, '2024-01-01');
  assert.equal(body.node_version, process.version);
  assert.ok(!Number.isNaN(Date.parse(body.started_at)));
});

test('/metrics counts every request under its route template', async (t) => {
  const app = await startApp(t);
  await app.call('/healthz');
  await app.call('/api/notes/123');
  await app.call('/api/notes/456');
  await app.call('/no/such/thing');
  await app.call('/metrics');
  const res = await app.call('/metrics');
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(res.text, /^http_requests_total\{method="GET",route="\/healthz",status="200"\} 1$/m);
  assert.match(res.text, /^http_requests_total\{method="GET",route="\/api\/notes\/:id",status="404"\} 2$/m);
  assert.match(res.text, /^http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m);
  assert.match(res.text, /^http_requests_total\{method="GET",route="\/metrics",status="200"\} 1$/m);
  assert.match(res.text, /^app_build_info\{version="1.0.0",revision="abc1234",node_version="v[\d.]+"\} 1$/m);
  assert.ok(!res.text.includes('/api/notes/123'));
});

test('every request is logged with method, route, status and duration', async (t) => {
  const app = await startApp(t);
  await app.call('/api/notes/9?x=1');
  const entry = app.logger.entries.find((e) => e.msg === 'request');
  assert.deepEqual(
    { ...entry, duration_ms: typeof entry.duration_ms },
    { level: 'info', msg: 'request', method: 'GET', route: '/api/notes/:id', path: '/api/notes/9', status: 404, duration_ms: 'number' },
  );
});

test('login issues a one-hour token that /api/me accepts', async (t) => {
  const app = await startApp(t);
  const res = await app.call('/api/login', { method: 'POST', body: { username: 'alice' } });
  const { token, token_type: type, expires_in: expiresIn } = res.json();
  assert.equal(type, 'Bearer');
  assert.equal(expiresIn, 3600);
  const me = await app.call('/api/me', { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(me.status, 200);
  const claims = me.json();
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.exp - claims.iat, 3600);
});

test('/api/me without a valid token is 401', async (t) => {
  const app = await startApp(t);
  const missing = await app.call('/api/me');
  assert.equal(missing.status, 401);
  assert.equal(missing.headers['www-authenticate'], 'Bearer');
  assert.match(missing.json().error, /missing bearer token/);
  const bad = await app.call('/api/me', { headers: { Authorization: 'Bearer not.a.token' } });
  assert.equal(bad.status, 401);
});

test('login validates the user name', async (t) => {
  const app = await startApp(t);
  for (const body of [{}, { username: '' }, { username: 'has space' }, { username: 42 }]) {
    const res = await app.call('/api/login', { method: 'POST', body });
    assert.equal(res.status, 400, JSON.stringify(body));
  }
});

test('notes: create, list with X-Cache miss/hit, read, delete', async (t) => {
  const app = await startApp(t);
  const auth = await login(app);

  assert.equal((await app.call('/api/notes')).headers['x-cache'], 'miss');
  assert.equal((await app.call('/api/notes')).headers['x-cache'], 'hit');

  const created = await app.call('/api/notes', { method: 'POST', headers: auth, body: { title: '  Hello ', body: 'World' } });
  assert.equal(created.status, 201);
  const note = created.json();
  assert.equal(note.title, 'Hello');
  assert.equal(note.author, 'alice');
  assert.equal(created.headers.location, `/api/notes/${note.id}`);

  const list = await app.call('/api/notes');
  assert.equal(list.headers['x-cache'], 'miss');
  assert.deepEqual(list.json().notes.map((n) => n.id), [note.id]);
  assert.equal((await app.call('/api/notes')).headers['x-cache'], 'hit');

  assert.equal((await app.call(`/api/notes/${note.id}`)).json().body, 'World');
  assert.equal((await app.call(`/api/notes/${note.id}`, { method: 'DELETE' })).status, 401);
  const deleted = await app.call(`/api/notes/${note.id}`, { method: 'DELETE', headers: auth });
  assert.equal(deleted.status, 204);
  assert.equal(deleted.text, '');
  assert.equal((await app.call(`/api/notes/${note.id}`)).status, 404);
  assert.equal((await app.call(`/api/notes/${note.id}`, { method: 'DELETE', headers: auth })).status, 404);
  assert.equal((await app.call('/api/notes')).headers['x-cache'], 'miss');
});

test('notes: writes need a token and valid fields', async (t) => {
  const app = await startApp(t);
  const auth = await login(app);
  assert.equal((await app.call('/api/notes', { method: 'POST', body: { title: 'x' } })).status, 401);
  const cases = [
    [{ body: 'no title' }, /title must be a non-empty string/],
    [{ title: '   ' }, /title must be a non-empty string/],
    [{ title: 'x'.repeat(201) }, /at most 200/],
    [{ title: 'ok', body: 5 }, /body must be a string/],
  ];
  for (const [body, message] of cases) {
    const res = await app.call('/api/notes', { method: 'POST', headers: auth, body });
    assert.equal(res.status, 400);
    assert.match(res.json().error, message);
  }
  assert.equal((await app.call('/api/notes/abc')).status, 400);
  assert.equal((await app.call('/api/notes/0')).status, 400);
});

test('bad JSON is 400, a body over 1 MiB is 413', async (t) => {
  const app = await startApp(t);
  const headers = { 'Content-Type': 'application/json' };
  const bad = await app.call('/api/login', { method: 'POST', headers, body: '{"username":' });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json(), { error: 'request body must be valid JSON' });
  assert.equal((await app.call('/api/login', { method: 'POST', headers, body: '[1]' })).status, 400);
  const big = await app.call('/api/login', { method: 'POST', headers, body: 'x'.repeat(MAX_BODY_BYTES + 1) });
  assert.equal(big.status, 413);
  assert.match(big.json().error, /larger than 1048576 bytes/);
});

test('unknown paths are a JSON 404, wrong methods a 405 with Allow', async (t) => {
  const app = await startApp(t);
  const missing = await app.call('/nope');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json(), { error: 'not found' });
  const wrong = await app.call('/api/notes', { method: 'PUT' });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.allow, 'GET, POST');
  assert.match(wrong.json().error, /PUT/);
});

test('internal errors are a generic 500, logged and sent to Sentry', async (t) => {
  const captured = [];
  const sentry = { capture: (err, req) => { captured.push({ err, req }); return 'event-1'; } };
  const app = await startApp(t, { sentry });
  app.db.failWith = Object.assign(new Error('relation "notes" does not exist'), { code: '42P01' });
  const res = await app.call('/api/notes/1');
  assert.equal(res.status, 500);
  assert.deepEqual(res.json(), { error: 'internal server error' });
  assert.equal(captured.length, 1);
  assert.deepEqual(captured[0].req, { method: 'GET', url: '/api/notes/1', route: '/api/notes/:id' });
  const logged = app.logger.entries.find((e) => e.msg === 'request failed');
  assert.equal(logged.sentry_event_id, 'event-1');
  assert.equal(logged.error.code, '42P01');
});

test('without a database the notes API answers 503', async (t) => {
  const app = await startApp(t, { db: null });
  const res = await app.call('/api/notes');
  assert.equal(res.status, 503);
  assert.match(res.json().error, /DATABASE_URL/);
});

test('fault knobs: failing health and readiness', async (t) => {
  const app = await startApp(t, { env: { FAULT_HEALTH_FAIL: '1', FAULT_READY_FAIL: '1' } });
  assert.equal((await app.call('/healthz')).status, 503);
  const ready = await app.call('/readyz');
  assert.equal(ready.status, 503);
  assert.match(ready.json().reason, /FAULT_READY_FAIL/);
});

test('fault knobs: error rate and latency apply to /api/* only', async (t) => {
  const app = await startApp(t, { env: { FAULT_ERROR_RATE: '1', FAULT_LATENCY_MS: '150' } });
  const started = Date.now();
  const res = await app.call('/api/notes');
  assert.ok(Date.now() - started >= 140, 'latency was added');
  assert.equal(res.status, 500);
  assert.equal((await app.call('/healthz')).status, 200);
  const fast = Date.now();
  await app.call('/version');
  assert.ok(Date.now() - fast < 140, 'no latency outside /api');
});

test('the server keeps idle connections longer than the edge does, as configured', async (t) => {
  const standard = await startApp(t);
  assert.equal(standard.server.keepAliveTimeout, 65000);
  assert.ok(standard.server.headersTimeout > standard.server.keepAliveTimeout);
  const tuned = await startApp(t, { env: { KEEPALIVE_TIMEOUT_MS: '20000' } });
  assert.equal(tuned.server.keepAliveTimeout, 20000);
});
