'use strict';
// SCRAM-SHA-256 client side (RFC 5802, RFC 7677), PostgreSQL's default
// password authentication since version 14.
const crypto = require('node:crypto');

const MECHANISM = 'SCRAM-SHA-256';
// gs2 header "n,," = no channel binding; "biws" is its base64 form.
const GS2_HEADER = 'n,,';

const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();
const sha256 = (data) => crypto.createHash('sha256').update(data).digest();

function createNonce() {
  return crypto.randomBytes(18).toString('base64');
}

function parseAttributes(message) {
  const attrs = {};
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) attrs[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return attrs;
}

// PostgreSQL ignores this user name (it uses the startup one), so "*" is sent.
function clientFirst(nonce, user = '*') {
  const name = user.replace(/=/g, '=3D').replace(/,/g, '=2C');
  const bare = `n=${name},r=${nonce}`;
  return { bare, message: GS2_HEADER + bare };
}

function parseServerFirst(message, clientNonce) {
  const { r: nonce, s: salt, i: iterations } = parseAttributes(message);
  if (!nonce || !salt || !iterations) throw new Error('SCRAM: malformed server-first message');
  if (!nonce.startsWith(clientNonce)) throw new Error('SCRAM: server nonce does not extend the client nonce');
  return { nonce, salt: Buffer.from(salt, 'base64'), iterations: Number(iterations) };
}

// Computes the client-final message (with the proof) and the signature the
// server must send back to prove it knows the password too.
function clientFinal({ password, clientFirstBare, serverFirst, nonce, salt, iterations }) {
  // SASLprep normalization is skipped: for ASCII passwords it is the identity.
  const saltedPassword = crypto.pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = hmac(saltedPassword, 'Client Key');
  const storedKey = sha256(clientKey);
  const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${nonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const clientSignature = hmac(storedKey, authMessage);
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i += 1) proof[i] = clientKey[i] ^ clientSignature[i];
  const serverKey = hmac(saltedPassword, 'Server Key');
  return {
    message: `${withoutProof},p=${proof.toString('base64')}`,
    serverSignature: hmac(serverKey, authMessage).toString('base64'),
  };
}

function verifyServerFinal(message, expectedSignature) {
  const { v: signature, e: error } = parseAttributes(message);
  if (error) throw new Error(`SCRAM: server reported ${error}`);
  const actual = Buffer.from(signature || '');
  const expected = Buffer.from(expectedSignature);
  if (actual.length !== expected.length || !crypto.timingSafeEqual(actual, expected)) {
    throw new Error('SCRAM: server signature does not match; the server may not know the password');
  }
}

module.exports = { MECHANISM, createNonce, clientFirst, parseServerFirst, clientFinal, verifyServerFinal };
