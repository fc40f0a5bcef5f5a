'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { createNotesStore, CACHE_KEY, CACHE_TTL_SECONDS } = require('../src/notes-store');
const { memoryLogger } = require('./helpers');

const NOTE = { id: 1, title: 't', body: 'b', author: 'alice', created_at: new Date('2024-01-01T00:00:00Z') };

function fakeDb() {
  const calls = [];
  return {
    calls,
    async query(sql, values) {
      calls.push({ sql, values });
      if (sql.startsWith('INSERT')) return { rows: [NOTE], rowCount: 1 };
      if (sql.startsWith('DELETE')) return { rows: [], rowCount: values[0] === '1' ? 1 : 0 };
      return { rows: [NOTE], rowCount: 1 };
    },
  };
}

function fakeRedis({ broken = false } = {}) {
  const data = new Map();
  const calls = [];
  const op = (name, fn) => async (...args) => {
    calls.push(name);
    if (broken) throw new Error('Redis GET timed out after 2000 ms');
    return fn(...args);
  };
  return {
    data,
    calls,
    get: op('get', (key) => data.get(key) ?? null),
    set: op('set', (key, value, options) => { data.set(key, value); data.options = options; return 'OK'; }),
    del: op('del', (key) => Number(data.delete(key))),
  };
}

test('list is a miss, then a hit from Redis with a 30 s expiry, newest first with a limit', async () => {
  const db = fakeDb();
  const redis = fakeRedis();
  const store = createNotesStore({ db, redis, logger: memoryLogger() });
  const first = await store.list();
  assert.equal(first.cache, 'miss');
  assert.deepEqual(redis.data.options, { ex: CACHE_TTL_SECONDS });
  assert.ok(redis.data.has(CACHE_KEY));
  assert.match(db.calls[0].sql, /ORDER BY created_at DESC, id DESC LIMIT \$1/);
  assert.deepEqual(db.calls[0].values, [50]);

  const second = await store.list();
  assert.equal(second.cache, 'hit');
  assert.equal(db.calls.length, 1);
  assert.deepEqual(JSON.parse(JSON.stringify(second.notes)), JSON.parse(JSON.stringify(first.notes)));
});

test('creating or deleting a note drops the cached list', async () => {
  const redis = fakeRedis();
  const store = createNotesStore({ db: fakeDb(), redis, logger: memoryLogger() });
  await store.list();
  await store.create({ title: 't', body: 'b', author: 'alice' });
  assert.equal((await store.list()).cache, 'miss');
  assert.equal(await store.remove('1'), true);
  assert.equal((await store.list()).cache, 'miss');
});

test('deleting a missing note reports false and leaves the cache', async () => {
  const redis = fakeRedis();
  const store = createNotesStore({ db: fakeDb(), redis, logger: memoryLogger() });
  await store.list();
  assert.equal(await store.remove('999'), false);
  assert.equal((await store.list()).cache, 'hit');
});

test('values reach SQL only as parameters', async () => {
  const db = fakeDb();
  const store = createNotesStore({ db, redis: null, logger: memoryLogger() });
  const title = "'); DROP TABLE notes; --";
  await store.create({ title, body: 'b', author: 'alice' });
  assert.ok(!db.calls[0].sql.includes(title));
  assert.deepEqual(db.calls[0].values, [title, 'b', 'alice']);
});

test('a failing Redis is logged and the database answers; no write after a failed read', async () => {
  const redis = fakeRedis({ broken: true });
  const logger = memoryLogger();
  const store = createNotesStore({ db: fakeDb(), redis, logger });
  assert.equal((await store.list()).cache, 'miss');
  assert.deepEqual(redis.calls, ['get']);
  assert.equal(logger.entries[0].msg, 'notes cache: read failed; using the database');
});

test('without Redis every list is a miss', async () => {
  const store = createNotesStore({ db: fakeDb(), redis: null, logger: memoryLogger() });
  assert.equal((await store.list()).cache, 'miss');
  assert.equal((await store.list()).cache, 'miss');
});
