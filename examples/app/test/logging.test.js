'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { maskUrl } = require('../src/redact');
const { createLogger } = require('../src/logger');

function captureLogger(level) {
  const lines = [];
  const logger = createLogger({ level, stream: { write: (line) => lines.push(line) } });
  return { logger, lines };
}

test('maskUrl hides passwords in connection URLs and leaves the rest', () => {
  assert.equal(maskUrl('postgres://app:s3cret@db:5432/notes'), 'postgres://app:***@db:5432/notes');
  assert.equal(maskUrl('redis://:s3cret@cache:6379/0'), 'redis://:***@cache:6379/0');
  assert.equal(maskUrl('connect to postgresql://u:p%40ss@h/db failed'), 'connect to postgresql://u:***@h/db failed');
  assert.equal(maskUrl('two: redis://:a@x and postgres://b:c@y'), 'two: redis://:***@x and postgres://b:***@y');
  assert.equal(maskUrl('http://host:8080/path'), 'http://host:8080/path');
  assert.equal(maskUrl('postgres://app@db/notes'), 'postgres://app@db/notes');
});

test('log lines are one JSON object with ts, level, msg and fields', () => {
  const { logger, lines } = captureLogger('info');
  logger.info('request', { method: 'GET', status: 200 });
  assert.equal(lines.length, 1);
  assert.ok(lines[0].endsWith('\n'));
  const entry = JSON.parse(lines[0]);
  assert.deepEqual(Object.keys(entry), ['ts', 'level', 'msg', 'method', 'status']);
  assert.equal(entry.level, 'info');
  assert.ok(!Number.isNaN(Date.parse(entry.ts)));
});

test('entries below the configured level are dropped', () => {
  const { logger, lines } = captureLogger('warn');
  logger.debug('a');
  logger.info('b');
  logger.warn('c');
  logger.error('d');
  assert.deepEqual(lines.map((l) => JSON.parse(l).msg), ['c', 'd']);
});

test('errors are serialized and URLs in any field are masked', () => {
  const { logger, lines } = captureLogger('debug');
  const err = new Error('cannot reach postgres://app:hunter2@db/notes');
  err.code = 'ECONNREFUSED';
  logger.error('failed', { error: err, target: 'redis://:hunter2@cache' });
  assert.ok(!lines[0].includes('hunter2'));
  const entry = JSON.parse(lines[0]);
  assert.equal(entry.error.code, 'ECONNREFUSED');
  assert.equal(entry.error.message, 'cannot reach postgres://app:***@db/notes');
  assert.equal(entry.target, 'redis://:***@cache');
});
