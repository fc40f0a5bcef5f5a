'use strict';
// Parses DATABASE_URL and REDIS_URL into connection options. Error messages
// describe the problem without repeating the URL (it may hold a password).

function parseUrl(text, schemes, example) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`is not a valid URL; expected ${example}`);
  }
  if (!schemes.includes(url.protocol.slice(0, -1))) {
    throw new Error(`must start with ${schemes.map((s) => `${s}://`).join(' or ')}; expected ${example}`);
  }
  if (!url.hostname) throw new Error(`has no host; expected ${example}`);
  return url;
}

function parsePort(url, fallback) {
  return url.port ? Number(url.port) : fallback;
}

const PG_EXAMPLE = 'postgres://user:password@host:5432/dbname';

function parseDatabaseUrl(text) {
  const url = parseUrl(text, ['postgres', 'postgresql'], PG_EXAMPLE);
  const user = decodeURIComponent(url.username);
  if (!user) throw new Error(`has no user name; expected ${PG_EXAMPLE}`);
  const database = decodeURIComponent(url.pathname.slice(1)) || user;
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: parsePort(url, 5432),
    user,
    password: decodeURIComponent(url.password),
    database,
  };
}

const REDIS_EXAMPLE = 'redis://[:password@]host:6379[/db]';

function parseRedisUrl(text) {
  if (/^rediss:/i.test(text)) {
    throw new Error('uses rediss:// (TLS), which this example client does not support; use redis://');
  }
  const url = parseUrl(text, ['redis'], REDIS_EXAMPLE);
  const dbText = url.pathname.slice(1) || '0';
  if (!/^\d+$/.test(dbText)) {
    throw new Error(`has database "${dbText}", which is not a number; expected ${REDIS_EXAMPLE}`);
  }
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: parsePort(url, 6379),
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    db: Number(dbText),
  };
}

module.exports = { parseDatabaseUrl, parseRedisUrl };
