'use strict';
// Used by the Dockerfile HEALTHCHECK: slim images have no curl.
// Exit 0 when GET /healthz answers 200 within 3 s, else 1.
const http = require('node:http');

const port = process.env.PORT || 3000;
const TIMEOUT_MS = 3000;

const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: TIMEOUT_MS }, (res) => {
  res.resume();
  process.exitCode = res.statusCode === 200 ? 0 : 1;
});
req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
req.on('error', (err) => {
  console.error(`healthcheck: ${err.message}`);
  process.exitCode = 1;
});
