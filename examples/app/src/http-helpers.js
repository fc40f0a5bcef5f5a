'use strict';
// Request body parsing and response writing shared by all routes.

const MAX_BODY_BYTES = 1024 * 1024;

// An error whose message is safe to show to the client.
class HttpError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.headers = headers;
  }
}

function tooLarge() {
  // Connection: close, because the rest of the body is left unread.
  return new HttpError(413, `request body is larger than ${MAX_BODY_BYTES} bytes`, { Connection: 'close' });
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length']) > limit) {
      reject(tooLarge());
      return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// Resolves to the parsed JSON object; anything else is a 400.
async function readJson(req, limit = MAX_BODY_BYTES) {
  const raw = await readBody(req, limit);
  let value;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body must be valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'request body must be a JSON object');
  }
  return value;
}

// Handlers return {status, body, headers}; an object body is sent as JSON,
// a string as-is (its content type set by the handler).
function send(res, { status = 200, body, headers = {} }) {
  let payload = '';
  const allHeaders = { ...headers };
  if (typeof body === 'string') {
    payload = body;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    allHeaders['Content-Type'] = 'application/json; charset=utf-8';
  }
  if (status !== 204) allHeaders['Content-Length'] = Buffer.byteLength(payload);
  res.writeHead(status, allHeaders);
  res.end(payload);
}

module.exports = { HttpError, readJson, send, MAX_BODY_BYTES };
