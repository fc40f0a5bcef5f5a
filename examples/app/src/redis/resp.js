'use strict';
// RESP2, the Redis wire protocol: commands go out as arrays of bulk strings;
// replies are parsed incrementally because they can span TCP chunks.
// https://redis.io/docs/latest/develop/reference/protocol-spec/

const CRLF = '\r\n';

function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}${CRLF}`)];
  for (const arg of args) {
    const bytes = Buffer.from(String(arg), 'utf8');
    parts.push(Buffer.from(`$${bytes.length}${CRLF}`), bytes, Buffer.from(CRLF));
  }
  return Buffer.concat(parts);
}

// An error reply such as "-WRONGPASS invalid username-password pair".
class RedisReplyError extends Error {
  constructor(text) {
    super(text);
    this.name = 'RedisReplyError';
    this.code = text.split(' ')[0];
  }
}

const INCOMPLETE = Symbol('incomplete');

// Parses one value at `offset`; returns {value, next} or INCOMPLETE.
function parseAt(buffer, offset) {
  const lineEnd = buffer.indexOf(CRLF, offset);
  if (lineEnd === -1) return INCOMPLETE;
  const type = String.fromCharCode(buffer[offset]);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next };
    case '-':
      return { value: new RedisReplyError(line), next };
    case ':':
      return { value: Number(line), next };
    case '$': {
      const length = Number(line);
      if (length === -1) return { value: null, next };
      if (buffer.length < next + length + 2) return INCOMPLETE;
      return { value: buffer.toString('utf8', next, next + length), next: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count === -1) return { value: null, next };
      const items = [];
      let cursor = next;
      for (let i = 0; i < count; i += 1) {
        const item = parseAt(buffer, cursor);
        if (item === INCOMPLETE) return INCOMPLETE;
        items.push(item.value);
        cursor = item.next;
      }
      return { value: items, next: cursor };
    }
    default:
      throw new Error(`RESP: unexpected reply type byte 0x${buffer[offset].toString(16)}`);
  }
}

class ReplyParser {
  constructor() {
    this.buffer = Buffer.alloc(0);
  }

  // Returns every complete reply now available, in order.
  push(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const replies = [];
    let offset = 0;
    while (offset < this.buffer.length) {
      const parsed = parseAt(this.buffer, offset);
      if (parsed === INCOMPLETE) break;
      replies.push(parsed.value);
      offset = parsed.next;
    }
    this.buffer = this.buffer.subarray(offset);
    return replies;
  }
}

module.exports = { encodeCommand, ReplyParser, RedisReplyError };
