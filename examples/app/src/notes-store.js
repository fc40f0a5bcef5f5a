'use strict';
// Notes in PostgreSQL, with the list cached in Redis. The cache is an
// optimisation only: when Redis fails, reads go to the database.

const CACHE_KEY = 'notes:list';
const CACHE_TTL_SECONDS = 30;
const LIST_LIMIT = 50;
const COLUMNS = 'id, title, body, author, created_at';
const UNAVAILABLE = Symbol('cache unavailable');

function createNotesStore({ db, redis, logger }) {
  // Runs a cache operation; on failure logs it and returns `failed`.
  async function cache(operation, fn, failed = null) {
    if (!redis) return failed;
    try {
      return await fn();
    } catch (err) {
      logger.warn(`notes cache: ${operation} failed; using the database`, { error: err.message });
      return failed;
    }
  }

  const forgetList = () => cache('invalidate', () => redis.del(CACHE_KEY));

  return {
    // Newest first. `cache` says whether Redis had the list ("hit") or not ("miss").
    async list() {
      const cached = await cache('read', () => redis.get(CACHE_KEY), UNAVAILABLE);
      if (typeof cached === 'string') return { notes: JSON.parse(cached), cache: 'hit' };
      const { rows } = await db.query(
        `SELECT ${COLUMNS} FROM notes ORDER BY created_at DESC, id DESC LIMIT $1`, [LIST_LIMIT],
      );
      // After a failed read, do not wait for a write that would fail too.
      if (cached !== UNAVAILABLE) {
        await cache('write', () => redis.set(CACHE_KEY, JSON.stringify(rows), { ex: CACHE_TTL_SECONDS }));
      }
      return { notes: rows, cache: 'miss' };
    },

    async get(id) {
      const { rows } = await db.query(`SELECT ${COLUMNS} FROM notes WHERE id = $1`, [id]);
      return rows[0] ?? null;
    },

    async create({ title, body, author }) {
      const { rows } = await db.query(
        `INSERT INTO notes (title, body, author) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`, [title, body, author],
      );
      await forgetList();
      return rows[0];
    },

    // Resolves to false when there was no such note.
    async remove(id) {
      const { rowCount } = await db.query('DELETE FROM notes WHERE id = $1', [id]);
      if (rowCount > 0) await forgetList();
      return rowCount > 0;
    },
  };
}

module.exports = { createNotesStore, CACHE_KEY, CACHE_TTL_SECONDS };
