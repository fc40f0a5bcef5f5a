'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { encodeCommand, ReplyParser, RedisReplyError } = require('../src/redis/resp');

test('commands are encoded as arrays of bulk strings with byte lengths', () => {
  assert.equal(encodeCommand(['SET', 'k', 'v', 'EX', 30]).toString(), '*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$2\r\n30\r\n');
  assert.equal(encodeCommand(['GET', 'é']).toString(), '*2\r\n$3\r\nGET\r\n$2\r\né\r\n');
  assert.equal(encodeCommand(['SET', 'k', '']).toString(), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n');
});

test('every RESP2 reply type is parsed', () => {
  const parser = new ReplyParser();
  const replies = parser.push(Buffer.from('+PONG\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n:1\r\n*-1\r\n*0\r\n'));
  assert.deepEqual(replies, ['PONG', 42, 'hello', null, ['a', 1], null, []]);
});

test('error replies become RedisReplyError with the error code', () => {
  const [err] = new ReplyParser().push(Buffer.from('-WRONGPASS invalid username-password pair\r\n'));
  assert.ok(err instanceof RedisReplyError);
  assert.equal(err.code, 'WRONGPASS');
  assert.equal(err.message, 'WRONGPASS invalid username-password pair');
});

test('replies split across chunks at any byte are reassembled', () => {
  const wire = Buffer.from('$12\r\nhello\r\nworld\r\n*2\r\n*1\r\n+x\r\n$3\r\nabc\r\n:7\r\n');
  for (let cut = 1; cut < wire.length; cut += 1) {
    const parser = new ReplyParser();
    const replies = [...parser.push(wire.subarray(0, cut)), ...parser.push(wire.subarray(cut))];
    assert.deepEqual(replies, ['hello\r\nworld', [['x'], 'abc'], 7], `cut at ${cut}`);
  }
});

test('multi-byte characters in bulk strings are counted in bytes', () => {
  assert.deepEqual(new ReplyParser().push(Buffer.from('$5\r\nnaïv\r\n', 'utf8')), ['naïv']);
});

test('an unknown type byte is a protocol error', () => {
  assert.throws(() => new ReplyParser().push(Buffer.from('?what\r\n')), /unexpected reply type/);
});
