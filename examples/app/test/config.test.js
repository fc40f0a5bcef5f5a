'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { loadConfig } = require('../src/config');
const { parseDatabaseUrl, parseRedisUrl } = require('../src/urls');
const { readBuildInfo } = require('../src/build-info');

const GOOD_SECRET = 'x'.repeat(32);
const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://app:db-password-1@db.internal:5433/notes',
  REDIS_URL: 'redis://:redis-password-1@cache.internal:6380/2',
  JWT_SECRET: GOOD_SECRET,
};
const variables = (problems) => problems.map((p) => p.variable);

test('a complete production environment has no errors and one warning for SENTRY_DSN', () => {
  const { config, errors, warnings } = loadConfig(PRODUCTION);
  assert.deepEqual(errors, []);
  assert.deepEqual(variables(warnings), ['SENTRY_DSN']);
  assert.equal(config.isProduction, true);
  assert.equal(config.port, 3000);
  assert.equal(config.shutdownTimeoutMs, 10000);
  assert.deepEqual(config.database, { host: 'db.internal', port: 5433, user: 'app', password: 'db-password-1', database: 'notes' });
  assert.deepEqual(config.redis, { host: 'cache.internal', port: 6380, username: '', password: 'redis-password-1', db: 2 });
});

test('production without DATABASE_URL, REDIS_URL and JWT_SECRET reports each one with what to do', () => {
  const { errors } = loadConfig({ NODE_ENV: 'production' });
  assert.deepEqual(variables(errors), ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET']);
  assert.match(errors[0].message, /^DATABASE_URL is not set: set it to postgres:\/\//);
  assert.match(errors[1].message, /^REDIS_URL is not set: set it to redis:\/\//);
  assert.match(errors[2].message, /^JWT_SECRET is not set: use at least 32 random characters/);
});

test('a short JWT_SECRET is an error in production and is never echoed', () => {
  const { errors } = loadConfig({ ...PRODUCTION, JWT_SECRET: 'tooshort-secret' });
  assert.deepEqual(variables(errors), ['JWT_SECRET']);
  assert.match(errors[0].message, /shorter than 32 characters/);
  assert.ok(!errors[0].message.includes('tooshort-secret'));
});

test('development starts without dependencies, with warnings and a random JWT secret', () => {
  const { config, errors, warnings } = loadConfig({});
  assert.deepEqual(errors, []);
  assert.deepEqual(variables(warnings), ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET']);
  assert.equal(config.env, 'development');
  assert.equal(config.database, null);
  assert.equal(config.jwtSecret.length, 64);
  assert.notEqual(loadConfig({}).config.jwtSecret, config.jwtSecret);
});

test('invalid values are errors in any environment, naming the variable and the value when not secret', () => {
  const { errors } = loadConfig({
    PORT: '70000', LOG_LEVEL: 'toString', SHUTDOWN_TIMEOUT_MS: '-5', FAULT_ERROR_RATE: '1.5',
    FAULT_LATENCY_MS: 'slow', FAULT_HEALTH_FAIL: 'yes', REDIS_URL: 'rediss://cache:6379',
  });
  assert.deepEqual(variables(errors).sort(), [
    'FAULT_ERROR_RATE', 'FAULT_HEALTH_FAIL', 'FAULT_LATENCY_MS', 'LOG_LEVEL', 'PORT', 'REDIS_URL', 'SHUTDOWN_TIMEOUT_MS',
  ]);
  const byVariable = Object.fromEntries(errors.map((e) => [e.variable, e.message]));
  assert.match(byVariable.PORT, /between 0 and 65535 \(got "70000"\)/);
  assert.match(byVariable.LOG_LEVEL, /debug, info, warn, error/);
  assert.match(byVariable.REDIS_URL, /TLS/);
});

test('a malformed DATABASE_URL is reported without its password', () => {
  const { errors } = loadConfig({ ...PRODUCTION, DATABASE_URL: 'mysql://app:hunter2-pass@db/notes' });
  assert.deepEqual(variables(errors), ['DATABASE_URL']);
  assert.match(errors[0].message, /must start with postgres:\/\/ or postgresql:\/\//);
  assert.ok(!errors[0].message.includes('hunter2-pass'));
});

test('SENTRY_DSN is validated when set', () => {
  assert.deepEqual(loadConfig({ ...PRODUCTION, SENTRY_DSN: 'https://key@sentry.example.com/7' }).warnings, []);
  const { errors } = loadConfig({ ...PRODUCTION, SENTRY_DSN: 'https://sentry.example.com/7' });
  assert.deepEqual(variables(errors), ['SENTRY_DSN']);
  assert.match(errors[0].message, /public key/);
});

test('fault knobs are parsed', () => {
  const { config, errors } = loadConfig({
    FAULT_HEALTH_FAIL: '1', FAULT_READY_FAIL: 'true', FAULT_ERROR_RATE: '0.25', FAULT_LATENCY_MS: '200', FAULT_CRASH_AT_START: '0',
  });
  assert.deepEqual(errors, []);
  assert.deepEqual(config.faults, { healthFail: true, readyFail: true, errorRate: 0.25, latencyMs: 200, crashAtStart: false });
});

test('version comes from APP_VERSION, then build-info.json, then "dev"', () => {
  const buildInfo = { version: '1.2.3', revision: 'abc123', build_date: '2024-01-02T03:04:05Z' };
  assert.equal(loadConfig({}).config.version, 'dev');
  assert.equal(loadConfig({}).config.revision, 'unknown');
  assert.equal(loadConfig({}, buildInfo).config.version, '1.2.3');
  assert.equal(loadConfig({}, buildInfo).config.buildDate, '2024-01-02T03:04:05Z');
  const fromEnv = loadConfig({ APP_VERSION: '9.9.9', APP_REVISION: 'fff' }, buildInfo).config;
  assert.deepEqual([fromEnv.version, fromEnv.revision], ['9.9.9', 'fff']);
});

test('database URLs: defaults, postgresql:// and percent-encoded passwords', () => {
  assert.deepEqual(parseDatabaseUrl('postgresql://me:p%40ss%2Fword@localhost'), {
    host: 'localhost', port: 5432, user: 'me', password: 'p@ss/word', database: 'me',
  });
  assert.throws(() => parseDatabaseUrl('postgres://localhost/db'), /has no user name/);
  assert.throws(() => parseDatabaseUrl('not a url'), /is not a valid URL/);
});

test('redis URLs: password only, user and password, database number', () => {
  assert.deepEqual(parseRedisUrl('redis://localhost'), { host: 'localhost', port: 6379, username: '', password: '', db: 0 });
  assert.deepEqual(parseRedisUrl('redis://app:secret@r:7000/3'), { host: 'r', port: 7000, username: 'app', password: 'secret', db: 3 });
  assert.throws(() => parseRedisUrl('http://localhost'), /must start with redis:\/\//);
});

test('build-info.json fills in version, revision and build date; a missing file means defaults', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'build-info-'));
  t.after(() => fs.rmSync(dir, { recursive: true }));
  const file = path.join(dir, 'build-info.json');
  assert.deepEqual(readBuildInfo(file), { version: 'dev', revision: 'unknown', build_date: 'unknown' });
  fs.writeFileSync(file, '{"version":"2.0.0","revision":"beef","build_date":"2024-06-01T00:00:00Z"}');
  assert.deepEqual(readBuildInfo(file), { version: '2.0.0', revision: 'beef', build_date: '2024-06-01T00:00:00Z' });
  fs.writeFileSync(file, '{not json');
  assert.throws(() => readBuildInfo(file), /cannot read/);
});

test('NAME_FILE variables give NAME the content of the file, so secrets stay out of the environment', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secret-files-'));
  const write = (name, text) => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const env = {
    NODE_ENV: 'production',
    DATABASE_URL_FILE: write('db', `${PRODUCTION.DATABASE_URL}\n`),
    REDIS_URL_FILE: write('redis', PRODUCTION.REDIS_URL),
    JWT_SECRET_FILE: write('jwt', GOOD_SECRET),
  };
  const { config, errors } = loadConfig(env);
  assert.deepEqual(errors, []);
  assert.equal(config.database.password, 'db-password-1'); // the file's line break is not the secret's
  assert.equal(config.redis.password, 'redis-password-1');
  assert.equal(config.jwtSecret, GOOD_SECRET);
});

test('an unreadable NAME_FILE, or NAME set both ways, is named and the value never echoed', () => {
  const { errors } = loadConfig({ ...PRODUCTION, REDIS_URL_FILE: '/nonexistent/redis' });
  assert.deepEqual(variables(errors), ['REDIS_URL_FILE']);
  assert.match(errors[0].message, /REDIS_URL_FILE and REDIS_URL are both set: set only one of them/);
  const missing = loadConfig({ ...PRODUCTION, JWT_SECRET: '', JWT_SECRET_FILE: '/nonexistent/jwt' }).errors;
  assert.deepEqual(variables(missing), ['JWT_SECRET_FILE', 'JWT_SECRET']);
  assert.match(missing[0].message, /^JWT_SECRET_FILE names \/nonexistent\/jwt, which cannot be read \(ENOENT\)/);
  assert.ok(!JSON.stringify(missing).includes('redis-password-1'));
});
