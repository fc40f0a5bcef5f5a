'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { once } = require('node:events');
const { parseDsn, authHeader, parseStack, buildEvent, createSentry } = require('../src/sentry');
const { memoryLogger } = require('./helpers');

test('DSNs are parsed into the store endpoint and public key', () => {
  assert.deepEqual(parseDsn('https://abc123@o1.ingest.sentry.io/4505'), {
    publicKey: 'abc123', projectId: '4505', host: 'o1.ingest.sentry.io', storeUrl: 'https://o1.ingest.sentry.io/api/4505/store/',
  });
  assert.equal(parseDsn('http://key:legacysecret@localhost:9000/7').storeUrl, 'http://localhost:9000/api/7/store/');
  assert.equal(parseDsn('https://key@example.com/sentry/12').storeUrl, 'https://example.com/sentry/api/12/store/');
});

test('invalid DSNs say what is wrong', () => {
  assert.throws(() => parseDsn('nonsense'), /not a valid URL/);
  assert.throws(() => parseDsn('ftp://key@host/1'), /http:\/\/ or https:\/\//);
  assert.throws(() => parseDsn('https://host/1'), /no public key/);
  assert.throws(() => parseDsn('https://key@host/'), /numeric project id/);
});

test('the auth header names protocol version 7, the key and this client', () => {
  assert.equal(authHeader('abc'), 'Sentry sentry_version=7, sentry_key=abc, sentry_client=auraspeak-example/1.0');
});

test('stack frames are parsed oldest call first', () => {
  const stack = [
    'Error: boom',
    '    at inner (/app/src/a.js:10:5)',
    '    at /app/src/b.js:3:1',
    '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
  ].join('\n');
  assert.deepEqual(parseStack(stack), [
    { function: 'process.processTicksAndRejections', filename: 'node:internal/process/task_queues', lineno: 95, colno: 5, in_app: false },
    { function: '<anonymous>', filename: '/app/src/b.js', lineno: 3, colno: 1, in_app: true },
    { function: 'inner', filename: '/app/src/a.js', lineno: 10, colno: 5, in_app: true },
  ]);
});

test('events carry id, timestamp, level, message, exception, release and environment', () => {
  const err = new TypeError('bad thing');
  const event = buildEvent(err, {
    release: '1.2.3', environment: 'production', now: new Date(0), request: { method: 'GET', url: '/api/notes', route: '/api/notes' },
  });
  assert.match(event.event_id, /^[0-9a-f]{32}$/);
  assert.equal(event.timestamp, '1970-01-01T00:00:00.000Z');
  assert.equal(event.level, 'error');
  assert.equal(event.message, 'bad thing');
  assert.equal(event.release, '1.2.3');
  assert.equal(event.environment, 'production');
  assert.equal(event.exception.values[0].type, 'TypeError');
  assert.ok(event.exception.values[0].stacktrace.frames.length > 0);
  assert.deepEqual(event.request, { method: 'GET', url: '/api/notes' });
  assert.deepEqual(event.tags, { route: '/api/notes' });
});

test('capture POSTs the event to the store endpoint with the auth header', async (t) => {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      server.emit('event', { url: req.url, auth: req.headers['x-sentry-auth'], event: JSON.parse(body) });
      res.end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const logger = memoryLogger();
  const dsn = parseDsn(`http://pubkey@127.0.0.1:${server.address().port}/42`);
  const sentry = createSentry({ dsn, release: 'r1', environment: 'test', logger });

  const eventId = sentry.capture(new Error('boom'));
  const [received] = await once(server, 'event');
  assert.equal(received.url, '/api/42/store/');
  assert.equal(received.auth, 'Sentry sentry_version=7, sentry_key=pubkey, sentry_client=auraspeak-example/1.0');
  assert.equal(received.event.event_id, eventId);
  assert.equal(received.event.release, 'r1');
});

test('a Sentry that is down or slow is logged, never thrown', async () => {
  const refused = http.createServer();
  refused.listen(0, '127.0.0.1');
  await once(refused, 'listening');
  const { port } = refused.address();
  refused.close();
  await once(refused, 'close');

  const hanging = http.createServer(() => {}); // accepts, never answers
  hanging.listen(0, '127.0.0.1');
  await once(hanging, 'listening');

  const logger = memoryLogger();
  for (const target of [port, hanging.address().port]) {
    const dsn = parseDsn(`http://k@127.0.0.1:${target}/1`);
    const sentry = createSentry({ dsn, release: 'r', environment: 't', logger, timeoutMs: 200 });
    sentry.capture(new Error('boom'));
  }
  await new Promise((resolve) => { setTimeout(resolve, 400); });
  hanging.closeAllConnections();
  hanging.close();
  const warnings = logger.entries.filter((e) => e.msg === 'sentry: could not send event').map((e) => e.error);
  assert.equal(warnings.length, 2);
  assert.ok(warnings.some((e) => /ECONNREFUSED/.test(e)));
  assert.ok(warnings.some((e) => /no answer within 200 ms/.test(e)));
});
