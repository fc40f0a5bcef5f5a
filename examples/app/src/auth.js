'use strict';
// Turns the Authorization header into verified JWT claims, or a 401.
const { verify, JwtError } = require('./jwt');
const { HttpError } = require('./http-helpers');

function unauthorized(message) {
  return new HttpError(401, message, { 'WWW-Authenticate': 'Bearer' });
}

function requireAuth(req, secret) {
  const header = req.headers.authorization || '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw unauthorized('missing bearer token: send "Authorization: Bearer <token>" from POST /api/login');
  try {
    return verify(match[1], secret);
  } catch (err) {
    if (err instanceof JwtError) throw unauthorized(err.message);
    throw err;
  }
}

module.exports = { requireAuth };
