'use strict';
// Entry point: read config, connect the pieces, listen, and shut down
// gracefully on SIGTERM/SIGINT.
const { loadConfig } = require('./config');
const { readBuildInfo } = require('./build-info');
const { createLogger } = require('./logger');
const { PgPool } = require('./pg/pool');
const { RedisClient } = require('./redis/client');
const { createSentry } = require('./sentry');
const { createHttpServer } = require('./http-server');
const { createShutdown } = require('./shutdown');

const EXIT_CONFIG = 78; // EX_CONFIG from sysexits.h

// Where the app connects, without passwords.
function describeTargets({ database, redis, sentry }) {
  return {
    database: database ? `${database.user}@${database.host}:${database.port}/${database.database}` : 'not configured',
    redis: redis ? `${redis.host}:${redis.port}/${redis.db}` : 'not configured',
    sentry: sentry ? sentry.host : 'not configured',
  };
}

function main() {
  const startedAt = new Date();
  const { config, errors, warnings } = loadConfig(process.env, readBuildInfo());
  const logger = createLogger({ level: config.logLevel });

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
  const { server, state } = createHttpServer({ config, logger, db, redis, sentry, startedAt });

  server.on('error', (err) => {
    logger.error('server error, exiting with status 1', { error: err });
    process.exit(1);
  });
  server.listen(config.port, () => {
    logger.info('listening', {
      port: server.address().port, env: config.env, version: config.version, ...describeTargets(config),
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
