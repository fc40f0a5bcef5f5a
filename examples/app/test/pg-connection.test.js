'use strict';
// The PostgreSQL connection and pool against a small in-process server that
// speaks the startup, password and query parts of the protocol.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const net = require('node:net');
const { once } = require('node:events');
const { PgConnection } = require('../src/pg/connection');
const { PgPool } = require('../src/pg/pool');

const USER = 'app';
const PASSWORD = 'right-password';
const SALT = Buffer.from([9, 8, 7, 6]);
const md5 = (data) => crypto.createHash('md5').update(data).digest('hex');

function message(type, ...parts) {
  const body = Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
  const head = Buffer.alloc(5);
  head.write(type);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const int16 = (n) => { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; };
const int32 = (n) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const cstrings = (...values) => values.map((v) => `${v}\0`).join('');

function rowDescription(fields) {
  return message('T', int16(fields.length), ...fields.flatMap(([name, oid]) => [
    `${name}\0`, int32(0), int16(0), int32(oid), int16(-1), int32(-1), int16(0),
  ]));
}
function dataRow(values) {
  return message('D', int16(values.length), ...values.flatMap((v) => (v === null ? [int32(-1)] : [int32(Buffer.byteLength(v)), v])));
}
const error = (code, text) => message('E', cstrings('SERROR', 'VERROR', `C${code}`, `M${text}`), '\0');
const ready = () => message('Z', 'I');

// Reads the Bind message's text parameters.
function bindValues(body) {
  let offset = body.indexOf(0) + 1;
  offset = body.indexOf(0, offset) + 1;
  offset += 2 + 2 * body.readInt16BE(offset);
  const count = body.readInt16BE(offset);
  offset += 2;
  const values = [];
  for (let i = 0; i < count; i += 1) {
    const length = body.readInt32BE(offset);
    offset += 4;
    values.push(length === -1 ? null : body.toString('utf8', offset, offset + length));
    offset += Math.max(length, 0);
  }
  return values;
}

async function fakePostgres(t, { auth = 'md5', silent = false } = {}) {
  const server = { seen: [], terminated: 0, sockets: new Set() };
  const tcp = net.createServer((socket) => {
    server.sockets.add(socket);
    socket.on('close', () => server.sockets.delete(socket));
    if (silent) return;
    let buffer = Buffer.alloc(0);
    let started = false;
    let query = null;
    const authenticated = () => socket.write(Buffer.concat([
      message('R', int32(0)), message('S', cstrings('server_version', '15.0')), message('K', int32(1), int32(2)), ready(),
    ]));
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 4 || buffer.length < buffer.readInt32BE(0)) return;
          server.startup = buffer.toString('utf8', 8, buffer.readInt32BE(0)).split('\0');
          buffer = buffer.subarray(buffer.readInt32BE(0));
          started = true;
          if (auth === 'md5') socket.write(message('R', int32(5), SALT));
          else if (auth === 'cleartext') socket.write(message('R', int32(3)));
          else authenticated();
          continue;
        }
        if (buffer.length < 5 || buffer.length < 1 + buffer.readInt32BE(1)) return;
        const type = String.fromCharCode(buffer[0]);
        const body = buffer.subarray(5, 1 + buffer.readInt32BE(1));
        buffer = buffer.subarray(1 + buffer.readInt32BE(1));
        if (type === 'p') {
          const sent = body.toString('utf8', 0, body.length - 1);
          const expected = auth === 'md5' ? `md5${md5(Buffer.concat([Buffer.from(md5(PASSWORD + USER)), SALT]))}` : PASSWORD;
          if (sent === expected) authenticated();
          else socket.end(error('28P01', `password authentication failed for user "${USER}"`));
        } else if (type === 'P') {
          query = { sql: body.toString('utf8', 1, body.indexOf(0, 1)) };
        } else if (type === 'B') {
          query.values = bindValues(body);
        } else if (type === 'S') {
          server.seen.push(query);
          if (query.sql.startsWith('SELECT pg_sleep')) continue;
          if (query.sql.includes('syntax error')) {
            socket.write(Buffer.concat([error('42601', 'syntax error at or near "error"'), ready()]));
          } else {
            socket.write(Buffer.concat([
              message('1'), message('2'), rowDescription([['n', 23], ['t', 25]]),
              dataRow(query.values), message('C', 'SELECT 1\0'), ready(),
            ]));
          }
        } else if (type === 'Q') {
          server.seen.push({ simple: body.toString('utf8', 0, body.length - 1) });
          socket.write(Buffer.concat([message('C', 'BEGIN\0'), ready()]));
        } else if (type === 'X') {
          server.terminated += 1;
          socket.end();
        }
      }
    });
  });
  tcp.listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  server.options = { host: '127.0.0.1', port: tcp.address().port, user: USER, password: PASSWORD, database: 'notes' };
  t.after(() => {
    server.sockets.forEach((s) => s.destroy());
    tcp.close();
  });
  return server;
}

for (const auth of ['md5', 'cleartext']) {
  test(`${auth} authentication, then a parameterised query returns typed rows`, async (t) => {
    const server = await fakePostgres(t, { auth });
    const conn = await new PgConnection(server.options).connect();
    assert.deepEqual(server.startup.slice(0, 4), ['user', USER, 'database', 'notes']);
    const result = await conn.query('SELECT $1::int AS n, $2::text AS t', [42, null]);
    assert.deepEqual(server.seen[0], { sql: 'SELECT $1::int AS n, $2::text AS t', values: ['42', null] });
    assert.deepEqual(result, { command: 'SELECT', rowCount: 1, rows: [{ n: 42, t: null }] });
    await conn.close();
    assert.equal(server.terminated, 1);
  });
}

test('a wrong password fails the connect with SQLSTATE 28P01', async (t) => {
  const server = await fakePostgres(t);
  const conn = new PgConnection({ ...server.options, password: 'wrong' });
  await assert.rejects(conn.connect(), { name: 'PgError', code: '28P01', message: /password authentication failed/ });
  assert.equal(conn.closed, true);
});

test('a missing password is reported before anything is sent', async (t) => {
  const server = await fakePostgres(t);
  await assert.rejects(new PgConnection({ ...server.options, password: '' }).connect(), /DATABASE_URL has none/);
});

test('an ErrorResponse rejects that query only; the connection stays usable', async (t) => {
  const server = await fakePostgres(t);
  const conn = await new PgConnection(server.options).connect();
  await assert.rejects(conn.query('SELECT syntax error'), { name: 'PgError', code: '42601', severity: 'ERROR' });
  assert.equal((await conn.query('SELECT $1::int AS n, $2::text AS t', [1, 'x'])).rows[0].t, 'x');
  assert.equal((await conn.simpleQuery('BEGIN')).command, 'BEGIN');
  await conn.close();
});

test('a query that outlasts its timeout closes the connection', async (t) => {
  const server = await fakePostgres(t);
  const conn = await new PgConnection(server.options).connect();
  await assert.rejects(conn.query('SELECT pg_sleep(10)', [], { timeoutMs: 100 }), /query timed out after 100 ms/);
  assert.equal(conn.closed, true);
  await assert.rejects(conn.query('SELECT 1'), /closed/);
});

test('a server that never answers the startup hits the connect timeout', async (t) => {
  const server = await fakePostgres(t, { silent: true });
  const conn = new PgConnection({ ...server.options, connectTimeoutMs: 100 });
  await assert.rejects(conn.connect(), /could not connect to PostgreSQL at 127.0.0.1:\d+ within 100 ms/);
});

test('the pool reuses connections, limits them, and times out waiting callers', async (t) => {
  const server = await fakePostgres(t);
  const pool = new PgPool(server.options, { max: 1, acquireTimeoutMs: 100 });
  await pool.query('SELECT $1::int AS n, $2::text AS t', [1, 'a']);
  await pool.query('SELECT $1::int AS n, $2::text AS t', [2, 'b']);
  assert.equal(pool.all.size, 1);

  const slow = pool.query('SELECT pg_sleep(1)', [], { timeoutMs: 300 });
  await assert.rejects(pool.query('SELECT $1::int AS n, $2::text AS t', [3, 'c']), /no database connection free within 100 ms/);
  await assert.rejects(slow, /timed out/);
  assert.equal(pool.all.size, 0, 'the timed-out connection was dropped');

  assert.equal((await pool.query('SELECT $1::int AS n, $2::text AS t', [4, 'd'])).rows[0].n, 4);
  await pool.end();
  assert.equal(server.terminated, 1);
  await assert.rejects(pool.query('SELECT 1'), /pool is closed/);
});
