'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const protocol = require('../src/pg/protocol');
const { md5Password, rowCountFromTag } = require('../src/pg/connection');
const { parseValue, OID } = require('../src/pg/types');

// Splits frontend bytes into [type, body] pairs.
function frames(buffer) {
  const out = [];
  for (let offset = 0; offset < buffer.length;) {
    const length = buffer.readInt32BE(offset + 1);
    out.push([String.fromCharCode(buffer[offset]), buffer.subarray(offset + 5, offset + 1 + length)]);
    offset += 1 + length;
  }
  return out;
}

// Builds a backend message the way the server would.
function backend(type, body) {
  const head = Buffer.alloc(5);
  head.write(type);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

test('startup message: length, protocol 3.0 and null-terminated parameters', () => {
  const msg = protocol.startupMessage({ user: 'app', database: 'notes' });
  assert.equal(msg.readInt32BE(0), msg.length);
  assert.equal(msg.readInt32BE(4), 196608);
  assert.equal(msg.subarray(8).toString(), 'user\0app\0database\0notes\0\0');
});

test('extended query: Parse, Bind with text parameters and NULL, Describe, Execute, Sync', () => {
  const parts = frames(protocol.extendedQuery('SELECT $1::text, $2', ["it's; DROP TABLE notes", null]));
  assert.deepEqual(parts.map(([t]) => t), ['P', 'B', 'D', 'E', 'S']);
  assert.equal(parts[0][1].toString(), '\0SELECT $1::text, $2\0\0\0');
  const bind = parts[1][1];
  // portal "", statement "", 0 format codes, 2 parameters
  assert.deepEqual([...bind.subarray(0, 6)], [0, 0, 0, 0, 0, 2]);
  const value = "it's; DROP TABLE notes";
  assert.equal(bind.readInt32BE(6), Buffer.byteLength(value));
  assert.equal(bind.toString('utf8', 10, 10 + value.length), value);
  assert.equal(bind.readInt32BE(10 + value.length), -1);
  assert.equal(bind.readInt16BE(14 + value.length), 0);
  assert.equal(parts[2][1].toString(), 'P\0');
  assert.deepEqual([...parts[3][1]], [0, 0, 0, 0, 0]);
  assert.equal(parts[4][1].length, 0);
});

test('parameter values are serialized as text', () => {
  assert.equal(protocol.serializeValue(42), '42');
  assert.equal(protocol.serializeValue(true), 'true');
  assert.equal(protocol.serializeValue(new Date(0)), '1970-01-01T00:00:00.000Z');
  assert.equal(protocol.serializeValue({ a: 1 }), '{"a":1}');
  assert.equal(protocol.serializeValue(undefined), null);
});

test('password, SASL, simple query and terminate messages', () => {
  assert.deepEqual(frames(protocol.passwordMessage('pw')), [['p', Buffer.from('pw\0')]]);
  const [[type, body]] = frames(protocol.saslInitialResponse('SCRAM-SHA-256', 'n,,n=*,r=abc'));
  assert.equal(type, 'p');
  assert.equal(body.toString('utf8', 0, 14), 'SCRAM-SHA-256\0');
  assert.equal(body.readInt32BE(14), 12);
  assert.equal(body.toString('utf8', 18), 'n,,n=*,r=abc');
  assert.deepEqual(frames(protocol.saslResponse('c=biws')), [['p', Buffer.from('c=biws')]]);
  assert.deepEqual(frames(protocol.simpleQuery('BEGIN')), [['Q', Buffer.from('BEGIN\0')]]);
  assert.deepEqual(frames(protocol.terminateMessage()), [['X', Buffer.alloc(0)]]);
});

test('the message reader handles messages split and joined across chunks', () => {
  const wire = Buffer.concat([backend('Z', Buffer.from('I')), backend('C', Buffer.from('SELECT 1\0'))]);
  for (let cut = 0; cut <= wire.length; cut += 1) {
    const reader = new protocol.MessageReader();
    const got = [...reader.push(wire.subarray(0, cut)), ...reader.push(wire.subarray(cut))];
    assert.deepEqual(got.map((m) => [m.type, m.body.toString()]), [['Z', 'I'], ['C', 'SELECT 1\0']], `cut at ${cut}`);
  }
});

test('authentication requests are decoded', () => {
  const int32 = (n) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
  assert.deepEqual(protocol.parseAuthentication(int32(0)), { code: 0 });
  assert.deepEqual(
    protocol.parseAuthentication(Buffer.concat([int32(5), Buffer.from([1, 2, 3, 4])])),
    { code: 5, salt: Buffer.from([1, 2, 3, 4]) },
  );
  assert.deepEqual(
    protocol.parseAuthentication(Buffer.concat([int32(10), Buffer.from('SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0')])),
    { code: 10, mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] },
  );
  assert.deepEqual(
    protocol.parseAuthentication(Buffer.concat([int32(11), Buffer.from('r=x,s=y,i=1')])),
    { code: 11, data: 'r=x,s=y,i=1' },
  );
});

test('RowDescription and DataRow decode to names, type OIDs and text values', () => {
  const field = (name, oid) => {
    const meta = Buffer.alloc(18);
    meta.writeInt32BE(oid, 6);
    return Buffer.concat([Buffer.from(`${name}\0`), meta]);
  };
  const rowDescription = Buffer.concat([Buffer.from([0, 2]), field('id', 20), field('title', 25)]);
  assert.deepEqual(protocol.parseRowDescription(rowDescription), [{ name: 'id', typeOid: 20 }, { name: 'title', typeOid: 25 }]);
  const dataRow = Buffer.from([0, 2, 0, 0, 0, 1, 0x37, 0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual(protocol.parseDataRow(dataRow), ['7', null]);
});

test('ErrorResponse fields are decoded', () => {
  const body = Buffer.from('SERROR\0VERROR\0C42P01\0Mrelation "nope" does not exist\0P15\0\0');
  assert.deepEqual(protocol.parseErrorFields(body), {
    S: 'ERROR', V: 'ERROR', C: '42P01', M: 'relation "nope" does not exist', P: '15',
  });
});

test('MD5 password hash matches PostgreSQL\'s md5(md5(password + user) + salt)', () => {
  assert.equal(md5Password('app', 'secretpw', Buffer.from([1, 2, 3, 4])), 'md5ddb76274d68dfbf2eb11aa42fafc31fd');
});

test('row counts come from the command tag', () => {
  assert.equal(rowCountFromTag('INSERT 0 3'), 3);
  assert.equal(rowCountFromTag('DELETE 1'), 1);
  assert.equal(rowCountFromTag('CREATE TABLE'), 0);
});

test('text values are converted by type OID', () => {
  assert.equal(parseValue('t', OID.BOOL), true);
  assert.equal(parseValue('42', OID.INT4), 42);
  assert.equal(parseValue('9007199254740993', OID.INT8), '9007199254740993');
  assert.equal(parseValue('12', OID.INT8), 12);
  assert.deepEqual(parseValue('{"a":[1]}', OID.JSONB), { a: [1] });
  assert.equal(parseValue('2024-05-01 10:20:30.123456+00', OID.TIMESTAMPTZ).toISOString(), '2024-05-01T10:20:30.123Z');
  assert.equal(parseValue('2024-05-01 12:20:30+02', OID.TIMESTAMPTZ).toISOString(), '2024-05-01T10:20:30.000Z');
  assert.equal(parseValue('1.50', 1700), '1.50'); // numeric keeps its precision as text
  assert.equal(parseValue(null, OID.INT4), null);
});
