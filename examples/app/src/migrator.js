'use strict';
// Database side of migrations: the advisory lock, the schema_migrations
// table, and applying/reverting one migration per transaction.

// Any constant works; all runners must agree on it.
const LOCK_ID = 7274650001;

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

// Session-level advisory lock: two runners never migrate at the same time,
// and the lock goes away by itself if a runner dies.
async function withMigrationLock(conn, onWait, fn) {
  const { rows } = await conn.query('SELECT pg_try_advisory_lock($1) AS locked', [LOCK_ID]);
  if (!rows[0].locked) {
    onWait();
    await conn.query('SELECT pg_advisory_lock($1)', [LOCK_ID]);
  }
  try {
    await conn.query(CREATE_TABLE);
    return await fn();
  } finally {
    await conn.query('SELECT pg_advisory_unlock($1)', [LOCK_ID]).catch(() => {});
  }
}

async function appliedMigrations(conn) {
  const { rows } = await conn.query('SELECT version, name, applied_at FROM schema_migrations ORDER BY version');
  return rows;
}

// The migration's SQL and its bookkeeping row commit together or not at all.
// Migration files must therefore not contain BEGIN/COMMIT themselves.
async function inTransaction(conn, sql, bookkeeping) {
  await conn.simpleQuery('BEGIN');
  try {
    await conn.simpleQuery(sql);
    await bookkeeping();
    await conn.simpleQuery('COMMIT');
  } catch (err) {
    await conn.simpleQuery('ROLLBACK').catch(() => {});
    throw err;
  }
}

function applyMigration(conn, migration) {
  return inTransaction(conn, migration.up, () => conn.query(
    'INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name],
  ));
}

function revertMigration(conn, migration) {
  return inTransaction(conn, migration.down, () => conn.query(
    'DELETE FROM schema_migrations WHERE version = $1', [migration.version],
  ));
}

module.exports = { withMigrationLock, appliedMigrations, applyMigration, revertMigration };
