'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { createRouter } = require('../src/router');

function router() {
  const r = createRouter();
  r.get('/healthz', 'health');
  r.get('/api/notes', 'list');
  r.post('/api/notes', 'create');
  r.get('/api/notes/:id', 'show');
  r.delete('/api/notes/:id', 'remove');
  return r;
}

test('static and parameterised routes match and report their template', () => {
  assert.deepEqual(router().match('GET', '/healthz'), { route: '/healthz', params: {}, handler: 'health' });
  assert.deepEqual(router().match('POST', '/api/notes'), { route: '/api/notes', params: {}, handler: 'create' });
  assert.deepEqual(router().match('DELETE', '/api/notes/42'), { route: '/api/notes/:id', params: { id: '42' }, handler: 'remove' });
});

test('parameters are URL-decoded', () => {
  assert.deepEqual(router().match('GET', '/api/notes/a%20b').params, { id: 'a b' });
});

test('unknown paths match nothing', () => {
  for (const path of ['/', '/api', '/api/notes/', '/api/notes/1/extra', '/healthz/x', '/api/notes/%E0%A4%A']) {
    assert.deepEqual(router().match('GET', path), { route: null }, path);
  }
});

test('a known path with the wrong method reports the allowed methods', () => {
  assert.deepEqual(router().match('PUT', '/api/notes'), { route: '/api/notes', allowed: ['GET', 'POST'] });
  assert.deepEqual(router().match('POST', '/api/notes/7'), { route: '/api/notes/:id', allowed: ['GET', 'DELETE'] });
});

test('HEAD is served by the GET handler', () => {
  assert.equal(router().match('HEAD', '/healthz').handler, 'health');
});
