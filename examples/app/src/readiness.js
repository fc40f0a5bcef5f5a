'use strict';
// Readiness = every dependency answers now: PostgreSQL runs SELECT 1 and
// Redis answers PING (after AUTH, when the URL has a password).

const CHECK_TIMEOUT_MS = 2000;

function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function check(client, probe, timeoutMs) {
  if (!client) return 'not configured';
  try {
    await withTimeout(probe(client), timeoutMs);
    return 'ok';
  } catch (err) {
    return `failed: ${err.message}`;
  }
}

async function checkDependencies({ db, redis, timeoutMs = CHECK_TIMEOUT_MS }) {
  const [database, cache] = await Promise.all([
    check(db, (c) => c.query('SELECT 1', [], { timeoutMs }), timeoutMs),
    check(redis, (c) => c.ping(), timeoutMs),
  ]);
  const checks = { database, redis: cache };
  return { ok: Object.values(checks).every((v) => v === 'ok'), checks };
}

module.exports = { checkDependencies };
