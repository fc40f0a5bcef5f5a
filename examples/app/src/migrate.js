'use strict';
// Migration CLI. Uses DATABASE_URL.
//   node src/migrate.js up            apply every pending migration
//   node src/migrate.js down          revert the latest applied migration
//   node src/migrate.js down --to N   revert everything above version N
//   node src/migrate.js status        list migrations and whether applied
// Exit codes: 0 done (also when nothing to do), 1 failed, 64 bad usage,
// 78 DATABASE_URL missing or invalid.
const { parseDatabaseUrl } = require('./urls');
const { maskUrl } = require('./redact');
const { resolveSecretFiles } = require('./secret-files');
const { PgConnection } = require('./pg/connection');
const { discoverMigrations, pendingMigrations, revertPlan, versionLabel } = require('./migrations');
const { withMigrationLock, appliedMigrations, applyMigration, revertMigration } = require('./migrator');

const EXIT = { OK: 0, FAILED: 1, USAGE: 64, CONFIG: 78 };
const USAGE = 'usage: node src/migrate.js up | down [--to VERSION] | status';

class CliError extends Error {
  constructor(message, exitCode) {
    super(message);
    this.exitCode = exitCode;
  }
}

function parseArgs(args) {
  const [command, ...rest] = args;
  if (command === 'up' || command === 'status') {
    if (rest.length) throw new CliError(`${command} takes no options\n${USAGE}`, EXIT.USAGE);
    return { command };
  }
  if (command === 'down') {
    if (rest.length === 0) return { command };
    if (rest.length === 2 && rest[0] === '--to' && /^\d+$/.test(rest[1])) return { command, to: Number(rest[1]) };
    throw new CliError(`down takes only --to VERSION (a number, 0 reverts everything)\n${USAGE}`, EXIT.USAGE);
  }
  throw new CliError(USAGE, EXIT.USAGE);
}

const currentVersion = (versions) => (versions.length ? Math.max(...versions) : 0);

async function timed(fn) {
  const started = Date.now();
  await fn();
  return Date.now() - started;
}

async function up(conn, migrations, log) {
  const versions = (await appliedMigrations(conn)).map((r) => r.version);
  const pending = pendingMigrations(migrations, versions);
  if (pending.length === 0) {
    log(`nothing to apply: database is at version ${versionLabel(currentVersion(versions))}`);
    return;
  }
  for (const migration of pending) {
    const ms = await timed(() => applyMigration(conn, migration).catch((err) => {
      throw failure('migration', migration, err);
    }));
    log(`applied ${migration.id} (${ms} ms)`);
    versions.push(migration.version);
  }
  log(`database is at version ${versionLabel(currentVersion(versions))} (${pending.length} applied)`);
}

async function down(conn, migrations, to, log) {
  let versions = (await appliedMigrations(conn)).map((r) => r.version);
  const plan = revertPlan(migrations, versions, to);
  if (plan.length === 0) {
    log(`nothing to revert: database is at version ${versionLabel(currentVersion(versions))}`);
    return;
  }
  for (const migration of plan) {
    const ms = await timed(() => revertMigration(conn, migration).catch((err) => {
      throw failure('revert of', migration, err);
    }));
    log(`reverted ${migration.id} (${ms} ms)`);
    versions = versions.filter((v) => v !== migration.version);
  }
  log(`database is at version ${versionLabel(currentVersion(versions))}`);
}

async function status(conn, migrations, log) {
  const applied = await appliedMigrations(conn);
  const appliedAt = new Map(applied.map((r) => [r.version, r.applied_at]));
  for (const m of migrations) {
    const when = appliedAt.get(m.version);
    log(`${m.id.padEnd(36)} ${when ? `applied ${when.toISOString()}` : 'pending'}`);
  }
  for (const row of applied.filter((r) => !migrations.some((m) => m.version === r.version))) {
    log(`${`${versionLabel(row.version)}_${row.name}`.padEnd(36)} applied, but this build has no files for it`);
  }
  const pending = pendingMigrations(migrations, applied.map((r) => r.version)).length;
  log(`database is at version ${versionLabel(currentVersion(applied.map((r) => r.version)))}, ${pending} pending`);
}

function failure(what, migration, err) {
  const code = err.code ? ` (SQLSTATE ${err.code})` : '';
  return new CliError(
    `${what} ${migration.id} failed: ${err.message}${code}; it was rolled back, nothing of it was recorded`,
    EXIT.FAILED,
  );
}

async function run(args, environment, log) {
  const { command, to } = parseArgs(args);
  const { env, errors } = resolveSecretFiles(environment);
  if (errors.length > 0) throw new CliError(errors.map((e) => e.message).join('; '), EXIT.CONFIG);
  if (!env.DATABASE_URL) {
    throw new CliError('DATABASE_URL is not set: set it to postgres://USER:PASSWORD@HOST:5432/DBNAME', EXIT.CONFIG);
  }
  let target;
  try {
    target = parseDatabaseUrl(env.DATABASE_URL);
  } catch (err) {
    throw new CliError(`DATABASE_URL ${err.message}`, EXIT.CONFIG);
  }
  const migrations = discoverMigrations();

  const conn = new PgConnection({ ...target, applicationName: 'auraspeak-example-migrate' });
  try {
    await conn.connect();
  } catch (err) {
    const where = `${target.user}@${target.host}:${target.port}/${target.database}`;
    throw new CliError(`cannot connect to ${where}: ${err.message}`, EXIT.FAILED);
  }
  try {
    await withMigrationLock(conn, () => log('another migration runner holds the lock; waiting for it'), async () => {
      if (command === 'up') await up(conn, migrations, log);
      else if (command === 'down') await down(conn, migrations, to, log);
      else await status(conn, migrations, log);
    });
  } finally {
    await conn.close();
  }
}

run(process.argv.slice(2), process.env, (line) => console.log(line)).catch((err) => {
  console.error(`migrate: ${maskUrl(err.message)}`);
  process.exitCode = err.exitCode ?? EXIT.FAILED;
});
