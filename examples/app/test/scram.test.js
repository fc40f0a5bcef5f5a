'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const scram = require('../src/pg/scram');

// RFC 7677 section 3: user "user", password "pencil".
const RFC = {
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

function rfcExchange() {
  const first = scram.clientFirst(RFC.clientNonce, 'user');
  const server = scram.parseServerFirst(RFC.serverFirst, RFC.clientNonce);
  const final = scram.clientFinal({ password: 'pencil', clientFirstBare: first.bare, serverFirst: RFC.serverFirst, ...server });
  return { first, server, final };
}

test('client-first message matches RFC 7677', () => {
  assert.equal(rfcExchange().first.message, RFC.clientFirst);
});

test('server-first message is parsed', () => {
  const { server } = rfcExchange();
  assert.equal(server.nonce, 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
  assert.equal(server.iterations, 4096);
  assert.equal(server.salt.toString('base64'), 'W22ZaJ0SNY7soEsUEjb6gQ==');
});

test('client proof and server signature match the RFC 7677 test vector', () => {
  const { final } = rfcExchange();
  assert.equal(final.message, RFC.clientFinal);
  assert.doesNotThrow(() => scram.verifyServerFinal(RFC.serverFinal, final.serverSignature));
});

test('a wrong server signature or a server error is refused', () => {
  const { final } = rfcExchange();
  const forged = 'v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';
  assert.throws(() => scram.verifyServerFinal(forged, final.serverSignature), /does not match/);
  assert.throws(() => scram.verifyServerFinal('e=invalid-proof', final.serverSignature), /invalid-proof/);
});

test('a server nonce that does not extend ours is refused', () => {
  assert.throws(() => scram.parseServerFirst('r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', RFC.clientNonce), /nonce/);
  assert.throws(() => scram.parseServerFirst('r=rOprNGfwEbeRWgbNEkqOx', RFC.clientNonce), /malformed/);
});

test('user names are escaped and PostgreSQL gets "*"', () => {
  assert.equal(scram.clientFirst('abc', 'a=b,c').bare, 'n=a=3Db=2Cc,r=abc');
  assert.equal(scram.clientFirst('abc').message, 'n,,n=*,r=abc');
  assert.notEqual(scram.createNonce(), scram.createNonce());
});
