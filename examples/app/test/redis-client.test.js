'use strict';
// The Redis client against a small in-process RESP server.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { once } = require('node:events');
const { RedisClient } = require('../src/redis/client');
const { ReplyParser } = require('../src/redis/resp');

const bulk = (s) => (s === null ? '$-1\r\n' : `$${Buffer.byteLength(s)}\r\n${s}\r\n`);

// Speaks enough RESP2 for the client: AUTH, SELECT, PING, GET, SET [EX], DEL, INCR, QUIT.
async function fakeRedis(t, { password = '' } = {}) {
  const server = { data: new Map(), commands: [], hang: false, connections: 0, sockets: new Set() };
  const tcp = net.createServer((socket) => {
    server.connections += 1;
    server.sockets.add(socket);
    const parser = new ReplyParser();
    let authed = !password;
    socket.on('data', (chunk) => {
      for (const [name, ...args] of parser.push(chunk)) {
        server.commands.push([name, ...args]);
        if (name === 'AUTH') {
          authed = args[args.length - 1] === password;
          socket.write(authed ? '+OK\r\n' : '-WRONGPASS invalid username-password pair\r\n');
        } else if (!authed) socket.write('-NOAUTH Authentication required.\r\n');
        else if (server.hang) continue;
        else if (name === 'SELECT' || name === 'SET') {
          if (name === 'SET') server.data.set(args[0], args[1]);
          socket.write('+OK\r\n');
        } else if (name === 'PING') socket.write('+PONG\r\n');
        else if (name === 'GET') socket.write(bulk(server.data.get(args[0]) ?? null));
        else if (name === 'DEL') socket.write(`:${Number(server.data.delete(args[0]))}\r\n`);
        else if (name === 'INCR') {
          const value = Number(server.data.get(args[0]) ?? 0) + 1;
          server.data.set(args[0], String(value));
          socket.write(`:${value}\r\n`);
        } else if (name === 'QUIT') socket.end('+OK\r\n');
      }
    });
    socket.on('close', () => server.sockets.delete(socket));
  });
  tcp.listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  server.port = tcp.address().port;
  server.dropConnections = () => server.sockets.forEach((s) => s.destroy());
  t.after(() => {
    server.dropConnections();
    tcp.close();
  });
  return server;
}

test('authenticates, selects the database and runs commands', async (t) => {
  const server = await fakeRedis(t, { password: 'pw' });
  const client = new RedisClient({ host: '127.0.0.1', port: server.port, password: 'pw', db: 3 });
  assert.equal(await client.ping(), 'PONG');
  assert.equal(await client.set('k', 'v', { ex: 30 }), 'OK');
  assert.equal(await client.get('k'), 'v');
  assert.equal(await client.get('missing'), null);
  assert.equal(await client.incr('n'), 1);
  assert.equal(await client.incr('n'), 2);
  assert.equal(await client.del('k'), 1);
  assert.deepEqual(server.commands.slice(0, 4), [['AUTH', 'pw'], ['SELECT', '3'], ['PING'], ['SET', 'k', 'v', 'EX', '30']]);
  await client.quit();
  await assert.rejects(client.ping(), /client is closed/);
});

test('a wrong password is reported as the server error', async (t) => {
  const server = await fakeRedis(t, { password: 'pw' });
  const client = new RedisClient({ host: '127.0.0.1', port: server.port, password: 'nope' });
  await assert.rejects(client.ping(), { name: 'RedisReplyError', code: 'WRONGPASS' });
});

test('a command that gets no answer times out, and the next one reconnects', async (t) => {
  const server = await fakeRedis(t);
  const client = new RedisClient({ host: '127.0.0.1', port: server.port, commandTimeoutMs: 100 });
  assert.equal(await client.ping(), 'PONG');
  server.hang = true;
  await assert.rejects(client.ping(), /PING timed out after 100 ms/);
  server.hang = false;
  assert.equal(await client.ping(), 'PONG');
  assert.equal(server.connections, 2);
  await client.quit();
});

test('a dropped connection is reopened on the next command', async (t) => {
  const server = await fakeRedis(t);
  const client = new RedisClient({ host: '127.0.0.1', port: server.port });
  assert.equal(await client.ping(), 'PONG');
  server.dropConnections();
  await new Promise((resolve) => { setTimeout(resolve, 50); });
  assert.equal(await client.ping(), 'PONG');
  assert.equal(server.connections, 2);
  await client.quit();
});

test('an unreachable server fails the command', async () => {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  probe.close();
  const client = new RedisClient({ host: '127.0.0.1', port });
  await assert.rejects(client.ping(), /ECONNREFUSED/);
});
