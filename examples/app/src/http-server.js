'use strict';
// Builds the HTTP server with all routes. Dependencies come in from outside
// so tests can pass fakes; db, redis and sentry may each be null.
const http = require('node:http');
const { createAppMetrics } = require('./app-metrics');
const { createRouter } = require('./router');
const { createNotesStore } = require('./notes-store');
const { registerSystemRoutes } = require('./routes/system');
const { registerAuthRoutes } = require('./routes/auth');
const { registerNotesRoutes } = require('./routes/notes');
const { createApp } = require('./app');

function createHttpServer({ config, logger, db, redis, sentry, startedAt = new Date() }) {
  const metrics = createAppMetrics({ version: config.version, revision: config.revision, startedAt });
  const state = { shuttingDown: false, inFlight: 0 };

  const router = createRouter();
  registerSystemRoutes(router, { config, state, metrics, db, redis, logger, startedAt });
  registerAuthRoutes(router, { config });
  registerNotesRoutes(router, { config, notes: db ? createNotesStore({ db, redis, logger }) : null });

  const server = http.createServer(createApp({ config, logger, router, metrics, sentry, state }));
  // Set explicitly rather than inherit Node's defaults (5 s keep-alive): see config.js.
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  server.headersTimeout = config.keepAliveTimeoutMs + 1000;
  server.requestTimeout = config.requestTimeoutMs;
  return { server, state };
}

module.exports = { createHttpServer };
