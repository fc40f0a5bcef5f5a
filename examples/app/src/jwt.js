'use strict';
// HS256 JSON Web Tokens (RFC 7519) with node:crypto.
const crypto = require('node:crypto');

const HEADER = { alg: 'HS256', typ: 'JWT' };

class JwtError extends Error {
  constructor(message) {
    super(message);
    this.name = 'JwtError';
  }
}

const base64url = (buffer) => Buffer.from(buffer).toString('base64url');
const hmac = (secret, data) => crypto.createHmac('sha256', secret).update(data).digest();
const nowSeconds = () => Math.floor(Date.now() / 1000);

function sign(claims, secret, { expiresInSeconds = 3600, now = nowSeconds() } = {}) {
  const payload = { ...claims, iat: now, exp: now + expiresInSeconds };
  const unsigned = `${base64url(JSON.stringify(HEADER))}.${base64url(JSON.stringify(payload))}`;
  return `${unsigned}.${base64url(hmac(secret, unsigned))}`;
}

function decodePart(part, what) {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (value && typeof value === 'object') return value;
  } catch {
    // fall through to the error below
  }
  throw new JwtError(`token ${what} is not valid base64url JSON`);
}

// Returns the claims, or throws JwtError saying why the token is refused.
function verify(token, secret, { now = nowSeconds() } = {}) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new JwtError('token is not a JWT');
  const [headerPart, payloadPart, signaturePart] = parts;
  const header = decodePart(headerPart, 'header');
  // Only HS256: accepting the token's own choice of "alg" is the classic JWT hole.
  if (header.alg !== 'HS256') throw new JwtError(`token algorithm ${header.alg} is not accepted`);
  const expected = hmac(secret, `${headerPart}.${payloadPart}`);
  const actual = Buffer.from(signaturePart, 'base64url');
  if (actual.length !== expected.length || !crypto.timingSafeEqual(actual, expected)) {
    throw new JwtError('token signature is invalid');
  }
  const claims = decodePart(payloadPart, 'payload');
  if (typeof claims.exp !== 'number') throw new JwtError('token has no expiry');
  if (now >= claims.exp) throw new JwtError('token has expired');
  if (typeof claims.nbf === 'number' && now < claims.nbf) throw new JwtError('token is not valid yet');
  return claims;
}

module.exports = { sign, verify, JwtError };
