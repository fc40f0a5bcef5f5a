'use strict';
// PostgreSQL frontend/backend protocol 3.0 message encoding and decoding.
// https://www.postgresql.org/docs/current/protocol-message-formats.html

const PROTOCOL_VERSION = 196608; // 3.0

// Builds a message body from int16/int32/cstring/bytes fields.
class Writer {
  constructor() {
    this.parts = [];
  }

  int16(n) {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    this.parts.push(b);
    return this;
  }

  int32(n) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    this.parts.push(b);
    return this;
  }

  cstring(s) {
    this.parts.push(Buffer.from(`${s}\0`, 'utf8'));
    return this;
  }

  bytes(b) {
    this.parts.push(Buffer.from(b));
    return this;
  }

  // Type byte, then an int32 length that counts itself but not the type byte.
  frame(type) {
    const body = Buffer.concat(this.parts);
    const head = Buffer.alloc(5);
    head.write(type, 0, 'ascii');
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  }
}

function startupMessage(params) {
  const w = new Writer().int32(PROTOCOL_VERSION);
  for (const [key, value] of Object.entries(params)) w.cstring(key).cstring(value);
  const body = Buffer.concat([...w.parts, Buffer.from([0])]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  return Buffer.concat([length, body]);
}

const passwordMessage = (password) => new Writer().cstring(password).frame('p');

function saslInitialResponse(mechanism, data) {
  const payload = Buffer.from(data, 'utf8');
  return new Writer().cstring(mechanism).int32(payload.length).bytes(payload).frame('p');
}

const saslResponse = (data) => new Writer().bytes(Buffer.from(data, 'utf8')).frame('p');

// Values travel as text in Bind, never spliced into SQL: this is what rules
// out SQL injection. null/undefined become SQL NULL.
function serializeValue(value) {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

// Parse + Bind + Describe + Execute + Sync for one unnamed statement.
function extendedQuery(sql, values = []) {
  const parse = new Writer().cstring('').cstring(sql).int16(0).frame('P');
  const bind = new Writer().cstring('').cstring('').int16(0).int16(values.length);
  for (const value of values) {
    const text = serializeValue(value);
    if (text === null) {
      bind.int32(-1);
    } else {
      const bytes = Buffer.from(text, 'utf8');
      bind.int32(bytes.length).bytes(bytes);
    }
  }
  bind.int16(0); // all result columns in text format
  const describe = new Writer().bytes('P').cstring('').frame('D');
  const execute = new Writer().cstring('').int32(0).frame('E');
  return Buffer.concat([parse, bind.frame('B'), describe, execute, new Writer().frame('S')]);
}

const simpleQuery = (sql) => new Writer().cstring(sql).frame('Q');
const terminateMessage = () => new Writer().frame('X');

// Splits a byte stream into {type, body} messages, keeping partial ones.
class MessageReader {
  constructor() {
    this.buffer = Buffer.alloc(0);
  }

  push(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const messages = [];
    let offset = 0;
    while (this.buffer.length - offset >= 5) {
      const length = this.buffer.readInt32BE(offset + 1);
      if (this.buffer.length - offset < length + 1) break;
      messages.push({
        type: String.fromCharCode(this.buffer[offset]),
        body: this.buffer.subarray(offset + 5, offset + 1 + length),
      });
      offset += length + 1;
    }
    this.buffer = this.buffer.subarray(offset);
    return messages;
  }
}

// Reads fields off a message body in order.
class Reader {
  constructor(body) {
    this.body = body;
    this.offset = 0;
  }

  int16() {
    const v = this.body.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32() {
    const v = this.body.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  cstring() {
    const end = this.body.indexOf(0, this.offset);
    const s = this.body.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }

  bytes(n) {
    const b = this.body.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }

  rest() {
    return this.bytes(this.body.length - this.offset);
  }
}

const AUTH = { OK: 0, CLEARTEXT: 3, MD5: 5, SASL: 10, SASL_CONTINUE: 11, SASL_FINAL: 12 };

function parseAuthentication(body) {
  const r = new Reader(body);
  const code = r.int32();
  if (code === AUTH.MD5) return { code, salt: r.bytes(4) };
  if (code === AUTH.SASL) {
    const mechanisms = [];
    for (let m = r.cstring(); m; m = r.cstring()) mechanisms.push(m);
    return { code, mechanisms };
  }
  if (code === AUTH.SASL_CONTINUE || code === AUTH.SASL_FINAL) return { code, data: r.rest().toString('utf8') };
  return { code };
}

function parseRowDescription(body) {
  const r = new Reader(body);
  const count = r.int16();
  const fields = [];
  for (let i = 0; i < count; i += 1) {
    const name = r.cstring();
    r.bytes(6); // table oid, column number
    const typeOid = r.int32();
    r.bytes(8); // type size, type modifier, format code
    fields.push({ name, typeOid });
  }
  return fields;
}

function parseDataRow(body) {
  const r = new Reader(body);
  const count = r.int16();
  const values = [];
  for (let i = 0; i < count; i += 1) {
    const length = r.int32();
    values.push(length === -1 ? null : r.bytes(length).toString('utf8'));
  }
  return values;
}

// ErrorResponse/NoticeResponse: single-byte field codes, e.g. C=SQLSTATE, M=message.
function parseErrorFields(body) {
  const r = new Reader(body);
  const fields = {};
  for (let code = r.bytes(1).toString(); code !== '\0' && code !== ''; code = r.bytes(1).toString()) {
    fields[code] = r.cstring();
  }
  return fields;
}

const parseCString = (body) => new Reader(body).cstring();

module.exports = {
  AUTH,
  startupMessage,
  passwordMessage,
  saslInitialResponse,
  saslResponse,
  extendedQuery,
  simpleQuery,
  terminateMessage,
  serializeValue,
  MessageReader,
  parseAuthentication,
  parseRowDescription,
  parseDataRow,
  parseErrorFields,
  parseCString,
};
