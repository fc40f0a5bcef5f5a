'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const jwt = require('../src/jwt');

const SECRET = 'a-test-secret-that-is-32-chars!!';
const NOW = 1700000000;

function forge(header, payload, secret = SECRET) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${enc(header)}.${enc(payload)}`;
  return `${unsigned}.${crypto.createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

test('sign produces an HS256 JWT with iat and exp that verify accepts', () => {
  const token = jwt.sign({ sub: 'alice' }, SECRET, { now: NOW, expiresInSeconds: 3600 });
  const [header] = token.split('.');
  assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url')), { alg: 'HS256', typ: 'JWT' });
  assert.deepEqual(jwt.verify(token, SECRET, { now: NOW + 10 }), { sub: 'alice', iat: NOW, exp: NOW + 3600 });
});

test('a token signed by an independent HMAC implementation verifies', () => {
  const token = forge({ alg: 'HS256', typ: 'JWT' }, { sub: 'bob', exp: NOW + 60 });
  assert.equal(jwt.verify(token, SECRET, { now: NOW }).sub, 'bob');
});

test('expired tokens are refused', () => {
  const token = jwt.sign({ sub: 'alice' }, SECRET, { now: NOW, expiresInSeconds: 3600 });
  assert.throws(() => jwt.verify(token, SECRET, { now: NOW + 3600 }), { name: 'JwtError', message: 'token has expired' });
});

test('tampered payloads and wrong secrets are refused', () => {
  const token = jwt.sign({ sub: 'alice' }, SECRET, { now: NOW });
  const [h, , s] = token.split('.');
  const evil = Buffer.from(JSON.stringify({ sub: 'admin', iat: NOW, exp: NOW + 3600 })).toString('base64url');
  assert.throws(() => jwt.verify(`${h}.${evil}.${s}`, SECRET, { now: NOW }), /signature is invalid/);
  assert.throws(() => jwt.verify(token, 'another-secret-of-32-characters!', { now: NOW }), /signature is invalid/);
  assert.throws(() => jwt.verify(`${token.slice(0, -2)}xx`, SECRET, { now: NOW }), /signature is invalid/);
});

test('alg none and other algorithms are refused', () => {
  const enc = (text) => Buffer.from(text).toString('base64url');
  const none = `${enc('{"alg":"none"}')}.${enc('{"sub":"x","exp":9999999999}')}.`;
  assert.throws(() => jwt.verify(none, SECRET, { now: NOW }), /algorithm none is not accepted/);
  assert.throws(() => jwt.verify(forge({ alg: 'HS512' }, { exp: NOW + 1 }), SECRET, { now: NOW }), /HS512/);
});

test('malformed tokens, missing exp and nbf in the future are refused', () => {
  assert.throws(() => jwt.verify('abc', SECRET), /not a JWT/);
  assert.throws(() => jwt.verify('a.b.c', SECRET), /header is not valid/);
  assert.throws(() => jwt.verify(forge({ alg: 'HS256' }, { sub: 'x' }), SECRET, { now: NOW }), /no expiry/);
  assert.throws(() => jwt.verify(forge({ alg: 'HS256' }, { exp: NOW + 100, nbf: NOW + 50 }), SECRET, { now: NOW }), /not valid yet/);
});
