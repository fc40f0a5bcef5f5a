'use strict';
// Minimal Sentry reporter using the legacy store endpoint. Sending is
// fire-and-forget with a short timeout: error reporting must never slow down
// or crash the request that failed.
const crypto = require('node:crypto');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');

const CLIENT = 'auraspeak-example/1.0';

// DSN: <scheme>://<public_key>[:<secret>]@<host>[:port][/<path>]/<project_id>
function parseDsn(dsn) {
  let url;
  try {
    url = new URL(dsn);
  } catch {
    throw new Error('is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must use http:// or https://');
  if (!url.username) throw new Error('has no public key (the part before @)');
  const segments = url.pathname.split('/');
  const projectId = segments.pop();
  if (!/^\d+$/.test(projectId)) throw new Error('does not end with a numeric project id');
  const pathPrefix = segments.join('/');
  return {
    publicKey: decodeURIComponent(url.username),
    projectId,
    host: url.host,
    storeUrl: `${url.protocol}//${url.host}${pathPrefix}/api/${projectId}/store/`,
  };
}

function authHeader(publicKey) {
  return `Sentry sentry_version=7, sentry_key=${publicKey}, sentry_client=${CLIENT}`;
}

const FRAME = /^\s*at (?:(.+?) \()?(.+?):(\d+):(\d+)\)?$/;

// Sentry wants frames oldest call first; V8 prints the newest first.
function parseStack(stack = '') {
  const frames = [];
  for (const line of stack.split('\n')) {
    const match = FRAME.exec(line);
    if (!match) continue;
    const [, fn, filename, lineno, colno] = match;
    frames.unshift({
      function: fn || '<anonymous>',
      filename,
      lineno: Number(lineno),
      colno: Number(colno),
      in_app: !filename.startsWith('node:') && !filename.includes('node_modules'),
    });
  }
  return frames;
}

function buildEvent(err, { release, environment, request, now = new Date() }) {
  const event = {
    event_id: crypto.randomUUID().replace(/-/g, ''),
    timestamp: now.toISOString(),
    platform: 'node',
    level: 'error',
    logger: 'auraspeak-example',
    server_name: os.hostname(),
    release,
    environment,
    message: err.message,
    exception: {
      values: [{ type: err.name || 'Error', value: err.message, stacktrace: { frames: parseStack(err.stack) } }],
    },
  };
  if (request) {
    event.request = { method: request.method, url: request.url };
    event.tags = { route: request.route };
  }
  return event;
}

function createSentry({ dsn, release, environment, logger, timeoutMs = 2000 }) {
  function send(event) {
    const body = JSON.stringify(event);
    const transport = dsn.storeUrl.startsWith('https:') ? https : http;
    const req = transport.request(dsn.storeUrl, {
      method: 'POST',
      timeout: timeoutMs,
      headers: {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        'X-Sentry-Auth': authHeader(dsn.publicKey),
      },
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => {
      logger.warn('sentry: could not send event', { event_id: event.event_id, host: dsn.host, error: err.message });
    });
    req.on('response', (res) => {
      res.resume();
      if (res.statusCode >= 300) {
        logger.warn('sentry: event rejected', { event_id: event.event_id, host: dsn.host, status: res.statusCode });
      } else {
        logger.debug('sentry: event sent', { event_id: event.event_id });
      }
    });
    req.end(body);
  }

  return {
    // Returns the event id so the caller can log it next to the error.
    capture(err, request) {
      const event = buildEvent(err, { release, environment, request });
      send(event);
      return event.event_id;
    },
  };
}

module.exports = { parseDsn, authHeader, parseStack, buildEvent, createSentry };
