'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { buildMigrations, discoverMigrations, pendingMigrations, revertPlan, versionLabel } = require('../src/migrations');

const build = (names) => buildMigrations(names, (file) => `-- ${file}`);
const ids = (list) => list.map((m) => m.id);

test('the shipped migrations are found in order, each with up and down SQL', () => {
  const migrations = discoverMigrations();
  assert.deepEqual(ids(migrations), ['0001_create_notes', '0002_index_notes_created_at', '0003_add_notes_author']);
  for (const m of migrations) {
    assert.match(m.up, /\S/);
    assert.match(m.down, /\S/);
  }
  assert.match(migrations[0].up, /CREATE TABLE notes/);
});

test('files are grouped by version and sorted numerically; other files are ignored', () => {
  const migrations = build([
    '0010_ten.down.sql', '0002_two.up.sql', '0010_ten.up.sql', '0002_two.down.sql', 'README.md',
  ]);
  assert.deepEqual(ids(migrations), ['0002_two', '0010_ten']);
  assert.deepEqual(migrations[1], { version: 10, name: 'ten', id: '0010_ten', up: '-- 0010_ten.up.sql', down: '-- 0010_ten.down.sql' });
});

test('badly named, incomplete or conflicting files are errors', () => {
  assert.throws(() => build(['1_short.up.sql']), /must be named NNNN_name.up.sql/);
  assert.throws(() => build(['0001_Upper.up.sql']), /must be named/);
  assert.throws(() => build(['0001_a.up.sql']), /0001_a.down.sql is missing/);
  assert.throws(() => build(['0001_a.up.sql', '0001_a.down.sql', '0001_b.up.sql', '0001_b.down.sql']), /used by both 0001_a and 0001_b/);
  assert.throws(() => build(['0000_zero.up.sql', '0000_zero.down.sql']), /start at 0001/);
});

test('pending migrations are the unapplied ones in version order', () => {
  const migrations = build(['0001_a.up.sql', '0001_a.down.sql', '0002_b.up.sql', '0002_b.down.sql', '0003_c.up.sql', '0003_c.down.sql']);
  assert.deepEqual(ids(pendingMigrations(migrations, [])), ['0001_a', '0002_b', '0003_c']);
  assert.deepEqual(ids(pendingMigrations(migrations, [1, 3])), ['0002_b']);
  assert.deepEqual(pendingMigrations(migrations, [1, 2, 3]), []);
});

test('down reverts the latest applied migration, or everything above --to, newest first', () => {
  const migrations = build(['0001_a.up.sql', '0001_a.down.sql', '0002_b.up.sql', '0002_b.down.sql', '0003_c.up.sql', '0003_c.down.sql']);
  assert.deepEqual(ids(revertPlan(migrations, [1, 2, 3])), ['0003_c']);
  assert.deepEqual(ids(revertPlan(migrations, [1, 2, 3], 1)), ['0003_c', '0002_b']);
  assert.deepEqual(ids(revertPlan(migrations, [2, 1, 3], 0)), ['0003_c', '0002_b', '0001_a']);
  assert.deepEqual(revertPlan(migrations, [1], 1), []);
  assert.deepEqual(revertPlan(migrations, []), []);
});

test('reverting a version this build has no files for is refused', () => {
  const migrations = build(['0001_a.up.sql', '0001_a.down.sql']);
  assert.throws(() => revertPlan(migrations, [1, 7]), /version 0007 is applied but this build has no files/);
  assert.equal(versionLabel(12), '0012');
});
