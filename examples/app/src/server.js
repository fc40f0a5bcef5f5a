'use strict';
// Entry point: read config, wire the pieces together, listen, and shut down
// gracefully on SIGTERM/SIGINT.
const http = require('node:http');
const { loadConfig } = require('./config');
const { readBuildInfo } = require('./build-info');
const { createLogger } = require('./logger');
const { PgPool } = require('./pg/pool');
const { RedisClient } = require('./redis/client');
const { createSentry } = require('./sentry');
const { createAppMetrics } = require('./app-metrics');
const { createRouter } = require('./router');
const { createNotesStore } = require('./notes-store');
const { registerSystemRoutes } = require('./routes/system');
const { registerAuthRoutes } = require('./routes/auth');
const { registerNotesRoutes } = require('./routes/notes');
const { createApp } = require('./app');
const { createShutdown } = require('./shutdown');

const EXIT_CONFIG = 78; // EX_CONFIG from sysexits.h

function describeTargets({ database, redis }) {
  return {
    database: database ? `${database.user}@${database.host}:${database.port}/${database.database}` : 'not configured',
    redis: redis ? `${redis.host}:${redis.port}/${redis.db}` : 'not configured',
  };
}

function main() {
  const startedAt = new Date();
  const { config, errors, warnings } = loadConfig(process.env, readBuildInfo());
  const logger = createLogger({
    level: config.logLevel,
    secrets: [config.database?.password, config.redis?.password, process.env.JWT_SECRET],
  });

  if (config.faults.crashAtStart) {
    logger.error('FAULT_CRASH_AT_START is set: exiting with status 1');
    process.exitCode = 1;
    return;
  }
  for (const { variable, message } of warnings) logger.warn(message, { variable });
  if (errors.length > 0) {
    for (const { variable, message } of errors) logger.error(message, { variable });
    logger.error(`configuration is invalid (${errors.length} problem(s)), exiting with status ${EXIT_CONFIG}`);
    process.exitCode = EXIT_CONFIG;
    return;
  }

  const db = config.database ? new PgPool(config.database) : null;
  const redis = config.redis ? new RedisClient(config.redis) : null;
  const sentry = config.sentry
    ? createSentry({ dsn: config.sentry, release: config.version, environment: config.env, logger })
    : null;
  const metrics = createAppMetrics({ version: config.version, revision: config.revision, startedAt });
  const state = { shuttingDown: false, inFlight: 0 };

  const router = createRouter();
  registerSystemRoutes(router, { config, state, metrics, db, redis, logger, startedAt });
  registerAuthRoutes(router, { config });
  registerNotesRoutes(router, { config, notes: db ? createNotesStore({ db, redis, logger }) : null });

  const server = http.createServer(createApp({ config, logger, router, metrics, sentry, state }));
  server.on('error', (err) => {
    logger.error('server error, exiting with status 1', { error: err });
    process.exit(1);
  });
  server.listen(config.port, () => {
    logger.info('listening', {
      port: server.address().port,
      env: config.env,
      version: config.version,
      sentry: config.sentry ? config.sentry.host : 'disabled',
      ...describeTargets(config),
    });
  });

  const shutdown = createShutdown({
    server,
    state,
    logger,
    timeoutMs: config.shutdownTimeoutMs,
    closeDependencies: () => Promise.all([db?.end(), redis?.quit()]),
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('uncaughtException', (err) => {
    logger.error('uncaught exception, exiting with status 1', { error: err });
    process.exit(1);
  });
}

main();
