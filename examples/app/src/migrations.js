'use strict';
// Finds migration files and works out what to apply or revert. Pure logic,
// no database: migrator.js runs the plans.
const fs = require('node:fs');
const path = require('node:path');

const MIGRATIONS_DIR = path.join(__dirname, '..', 'migrations');
const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$/;

const versionLabel = (version) => String(version).padStart(4, '0');

// fileNames + read(name) -> [{version, name, id, up, down}] sorted by version.
function buildMigrations(fileNames, read) {
  const byVersion = new Map();
  for (const file of fileNames.filter((f) => f.endsWith('.sql')).sort()) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new Error(`${file}: migration files must be named NNNN_name.up.sql or NNNN_name.down.sql`);
    const [, digits, name, direction] = match;
    const version = Number(digits);
    if (version === 0) throw new Error(`${file}: versions start at 0001 (0 means "nothing applied")`);
    const entry = byVersion.get(version) ?? { version, name, id: `${digits}_${name}` };
    if (entry.name !== name) throw new Error(`version ${digits} is used by both ${entry.id} and ${digits}_${name}`);
    entry[direction] = read(file);
    byVersion.set(version, entry);
  }
  const migrations = [...byVersion.values()].sort((a, b) => a.version - b.version);
  for (const m of migrations) {
    for (const direction of ['up', 'down']) {
      if (m[direction] === undefined) throw new Error(`${m.id}: ${m.id}.${direction}.sql is missing`);
    }
  }
  return migrations;
}

function discoverMigrations(dir = MIGRATIONS_DIR) {
  return buildMigrations(fs.readdirSync(dir), (file) => fs.readFileSync(path.join(dir, file), 'utf8'));
}

// Not yet applied, in version order.
function pendingMigrations(migrations, appliedVersions) {
  const applied = new Set(appliedVersions);
  return migrations.filter((m) => !applied.has(m.version));
}

// What `down` reverts, newest first: the latest applied migration, or with
// `to` every applied migration above version `to`.
function revertPlan(migrations, appliedVersions, to) {
  const newestFirst = [...appliedVersions].sort((a, b) => b - a);
  const targets = to === undefined ? newestFirst.slice(0, 1) : newestFirst.filter((v) => v > to);
  return targets.map((version) => {
    const migration = migrations.find((m) => m.version === version);
    if (!migration) {
      const label = versionLabel(version);
      throw new Error(`version ${label} is applied but this build has no files for it; cannot revert it`);
    }
    return migration;
  });
}

module.exports = { buildMigrations, discoverMigrations, pendingMigrations, revertPlan, versionLabel };
