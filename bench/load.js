'use strict';
// An open-loop HTTPS/HTTP load generator for the benchmarks: requests start at
// a fixed rate whatever the answers take, each on a new connection (a new TLS
// handshake). The same mixes as tests/integration/open_load.py, which the
// tests use; this one exists because a Python client cannot start 300 TLS
// connections a second on a 2-core machine that also runs the stack (measured:
// 170 a second, with a growing backlog).
//
//   node bench/load.js --url https://localhost:8443/ --cafile ca.crt --rate 300 --mix api [--seconds 60]
//
// --servername NAME checks the certificate for NAME (and sends it as SNI) when
// the URL is an address: the edge container's own, as a client on another host
// reaches it.
//
// Without --seconds it runs until SIGTERM or SIGINT. It prints one JSON report:
// counts per outcome and per request, and the times (ms since start) of every
// finished, failed and slow (--slow-ms) request.
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const tls = require('node:tls');

const MIXES = {
  version: [['GET', '/version']],
  api: [['GET', '/version'], ['GET', '/api/notes'], ['POST', '/api/notes']],
};

function options(argv) {
  const result = { rate: 150, mix: 'version', seconds: 0, slowMs: 250, timeoutMs: 10000 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-(.)/g, (_m, c) => c.toUpperCase());
    result[key] = ['rate', 'seconds', 'slowMs', 'timeoutMs'].includes(key) ? Number(argv[i + 1]) : argv[i + 1];
  }
  return result;
}

function main() {
  const opts = options(process.argv.slice(2));
  const url = new URL(opts.url);
  const client = url.protocol === 'https:' ? https : http;
  // One TLS context for every connection: with agent false Node would build one per request from the
  // CA file, 0.4 ms of CPU each, on a machine where the client already takes most of a core.
  const secureContext = opts.cafile ? tls.createSecureContext({ ca: fs.readFileSync(opts.cafile) }) : undefined;
  const mix = url.pathname === '/' ? MIXES[opts.mix] : [['GET', url.pathname]];
  const report = { requests: 0, failed: 0, outcomes: {}, by_request: {}, versions: {}, finished_ms: [],
    failed_ms: [], slow_ms: [], first_errors: [] };
  let token = null;
  let inFlight = 0;
  let stopping = false;
  const started = Date.now();

  function call(method, path, body, done) {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = { Connection: 'close' };
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(payload);
      if (token) headers.Authorization = `Bearer ${token}`;
    }
    const req = client.request({ host: url.hostname, port: url.port, path, method, headers, secureContext, agent: false,
      servername: opts.servername, timeout: opts.timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => done(null, res.statusCode, Buffer.concat(chunks).toString()));
      res.on('error', (err) => done(err));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => done(err));
    req.end(payload);
  }

  function count(map, key) {
    map[key] = (map[key] || 0) + 1;
  }

  function one(method, path) {
    const begun = Date.now();
    inFlight += 1;
    call(method, path, method === 'POST' ? { title: 'load', body: 'x' } : undefined, (err, status, text) => {
      inFlight -= 1;
      const now = Date.now() - started;
      const outcome = err ? (err.code || err.message) : status;
      report.requests += 1;
      count(report.outcomes, outcome);
      count(report.by_request, `${method} ${path} ${outcome}`);
      report.finished_ms.push(now);
      if (Date.now() - begun > opts.slowMs) report.slow_ms.push(now);
      if (!err && path === '/version' && status === 200) {
        try { count(report.versions, JSON.parse(text).version); } catch { /* counted by status */ }
      }
      if (err || status < 200 || status >= 300) {
        report.failed += 1;
        report.failed_ms.push(now);
        if (report.first_errors.length < 20) report.first_errors.push([now / 1000, `${method} ${path}`, outcome]);
      }
      if (stopping && inFlight === 0) finish();
    });
  }

  let sent = 0;
  let timer = null;
  function schedule() {
    const elapsed = Date.now() - started;
    while ((sent * 1000) / opts.rate <= elapsed) {
      const [method, path] = mix[sent % mix.length];
      one(method, path);
      sent += 1;
    }
    timer = setTimeout(schedule, Math.max(0, (sent * 1000) / opts.rate - (Date.now() - started)));
  }

  function finish() {
    report.seconds = (Date.now() - started) / 1000;
    report.rate = report.requests / report.seconds;
    report.sent = sent;
    process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
  }

  function stop() {
    if (stopping) return;
    stopping = true;
    clearTimeout(timer);
    if (inFlight === 0) finish();
  }
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (opts.seconds > 0) setTimeout(stop, opts.seconds * 1000);

  const login = mix.some(([method]) => method === 'POST');
  if (!login) return schedule();
  call('POST', '/api/login', { username: 'load' }, (err, status, text) => {
    if (err || status !== 200) {
      process.stderr.write(`POST /api/login failed: ${err ? err.message : `${status} ${text}`}\n`);
      process.exit(2);
    }
    token = JSON.parse(text).token;
    schedule();
  });
}

main();
