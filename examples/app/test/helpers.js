'use strict';
// Shared by the tests that talk HTTP. (node --test also loads this file; it
// defines no tests of its own.)
const http = require('node:http');

// One request on a fresh connection; resolves {status, headers, text, json}.
function request(port, { method = 'GET', path = '/', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const payload = typeof body === 'object' && !Buffer.isBuffer(body) ? JSON.stringify(body) : body;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

// A logger that keeps entries in memory instead of printing them.
function memoryLogger() {
  const entries = [];
  const log = (level) => (msg, fields = {}) => entries.push({ level, msg, ...fields });
  return { entries, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

module.exports = { request, memoryLogger };
