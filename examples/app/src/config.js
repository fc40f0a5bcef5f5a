'use strict';
// Reads the environment once at start. Problems come back as a list instead of
// being thrown one at a time, so an operator sees every mistake in one run.
const crypto = require('node:crypto');
const { parseDatabaseUrl, parseRedisUrl } = require('./urls');
const { parseDsn } = require('./sentry');
const { LEVELS } = require('./logger');
const { resolveSecretFiles } = require('./secret-files');

const MIN_JWT_SECRET_LENGTH = 32;
const JWT_HINT = `use at least ${MIN_JWT_SECRET_LENGTH} random characters, e.g. the output of \`openssl rand -hex 32\``;

function loadConfig(environment = process.env, buildInfo = {}) {
  const { env, errors } = resolveSecretFiles(environment);
  const warnings = [];
  const problem = (list, variable, message) => list.push({ variable, message: `${variable} ${message}` });
  const isProduction = env.NODE_ENV === 'production';
  // A missing required setting is fatal in production; in development the app
  // still starts so it can be worked on without every dependency running.
  const missing = isProduction ? errors : warnings;

  function integer(name, fallback, { min, max, unit = '' }) {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      problem(errors, name, `must be an integer between ${min} and ${max}${unit} (got "${text}")`);
      return fallback;
    }
    return value;
  }

  function flag(name) {
    const text = (env[name] ?? '').toLowerCase();
    if (['', '0', 'false'].includes(text)) return false;
    if (['1', 'true'].includes(text)) return true;
    problem(errors, name, `must be 1 or 0 (got "${env[name]}")`);
    return false;
  }

  function connection(name, parse, example, consequence) {
    const text = env[name];
    if (!text) {
      problem(missing, name, `is not set: set it to ${example}${isProduction ? '' : ` (${consequence})`}`);
      return null;
    }
    try {
      return parse(text);
    } catch (err) {
      problem(errors, name, err.message);
      return null;
    }
  }

  const logLevel = env.LOG_LEVEL || 'info';
  if (!Object.hasOwn(LEVELS, logLevel)) {
    problem(errors, 'LOG_LEVEL', `must be one of ${Object.keys(LEVELS).join(', ')} (got "${logLevel}")`);
  }

  const database = connection('DATABASE_URL', parseDatabaseUrl, 'postgres://user:password@host:5432/dbname',
    'until then /readyz fails and /api/notes answers 503');
  const redis = connection('REDIS_URL', parseRedisUrl, 'redis://:password@host:6379/0',
    'until then /readyz fails and notes are not cached');

  let jwtSecret = env.JWT_SECRET || '';
  if (!jwtSecret) {
    const fallback = isProduction ? '' : ' (using a random secret for this process)';
    problem(missing, 'JWT_SECRET', `is not set: ${JWT_HINT}${fallback}`);
    jwtSecret = crypto.randomBytes(32).toString('hex');
  } else if (jwtSecret.length < MIN_JWT_SECRET_LENGTH) {
    problem(missing, 'JWT_SECRET', `is shorter than ${MIN_JWT_SECRET_LENGTH} characters: ${JWT_HINT}`);
  }

  let sentry = null;
  if (env.SENTRY_DSN) {
    try {
      sentry = parseDsn(env.SENTRY_DSN);
    } catch (err) {
      problem(errors, 'SENTRY_DSN', `${err.message}: copy the DSN from your Sentry project's Client Keys settings`);
    }
  } else if (isProduction) {
    problem(warnings, 'SENTRY_DSN', 'is not set: server errors are only logged, not reported to Sentry');
  }

  const errorRateText = env.FAULT_ERROR_RATE || '0';
  let errorRate = Number(errorRateText);
  if (!(errorRate >= 0 && errorRate <= 1)) {
    problem(errors, 'FAULT_ERROR_RATE', `must be a number between 0 and 1 (got "${errorRateText}")`);
    errorRate = 0;
  }

  const config = {
    env: env.NODE_ENV || 'development',
    isProduction,
    port: integer('PORT', 3000, { min: 0, max: 65535 }),
    logLevel,
    shutdownTimeoutMs: integer('SHUTDOWN_TIMEOUT_MS', 10000, { min: 1, max: 3600000, unit: ' ms' }),
    // Idle keep-alive connections stay open this long. Proxies in front (the
    // edge keeps idle upstream connections 4 s) must close theirs sooner, or a
    // request can race this server closing the connection and fail.
    keepAliveTimeoutMs: integer('KEEPALIVE_TIMEOUT_MS', 65000, { min: 1000, max: 3600000, unit: ' ms' }),
    requestTimeoutMs: integer('REQUEST_TIMEOUT_MS', 60000, { min: 1000, max: 3600000, unit: ' ms' }),
    version: env.APP_VERSION || buildInfo.version || 'dev',
    revision: env.APP_REVISION || buildInfo.revision || 'unknown',
    buildDate: buildInfo.build_date || 'unknown',
    database,
    redis,
    jwtSecret,
    sentry,
    faults: {
      healthFail: flag('FAULT_HEALTH_FAIL'),
      readyFail: flag('FAULT_READY_FAIL'),
      errorRate,
      latencyMs: integer('FAULT_LATENCY_MS', 0, { min: 0, max: 600000, unit: ' ms' }),
      crashAtStart: flag('FAULT_CRASH_AT_START'),
    },
  };
  return { config, errors, warnings };
}

module.exports = { loadConfig };
