'use strict';
// Minimal Redis client: one connection, commands pipelined in order, each
// with a timeout. The connection is (re)opened lazily on the next command
// after it drops, so a Redis restart heals by itself.
const net = require('node:net');
const { encodeCommand, ReplyParser, RedisReplyError } = require('./resp');

class RedisClient {
  constructor({ host, port, username = '', password = '', db = 0, connectTimeoutMs = 2000, commandTimeoutMs = 2000 }) {
    Object.assign(this, { host, port, username, password, db, connectTimeoutMs, commandTimeoutMs });
    this.socket = null;
    this.ready = null; // promise of the current connection's setup
    this.pending = []; // replies are matched to commands in order
    this.closed = false;
  }

  async command(...args) {
    if (this.closed) throw new Error('Redis client is closed');
    await this.connection();
    return this.send(args);
  }

  ping() {
    return this.command('PING');
  }

  get(key) {
    return this.command('GET', key);
  }

  set(key, value, { ex } = {}) {
    return ex ? this.command('SET', key, value, 'EX', ex) : this.command('SET', key, value);
  }

  del(...keys) {
    return this.command('DEL', ...keys);
  }

  incr(key) {
    return this.command('INCR', key);
  }

  async quit() {
    this.closed = true;
    const socket = this.socket;
    if (!socket) return;
    await new Promise((resolve) => {
      socket.once('close', resolve);
      this.send(['QUIT']).catch(() => {}).finally(() => socket.end());
    });
  }

  connection() {
    if (!this.ready) {
      this.ready = this.connect();
      this.ready.catch(() => {}); // the caller of command() sees the error
    }
    return this.ready;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port });
      const parser = new ReplyParser();
      let lastError = null;
      this.socket = socket;
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        const where = `${this.host}:${this.port}`;
        socket.destroy(new Error(`could not connect to Redis at ${where} within ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);

      socket.on('connect', () => {
        clearTimeout(timer);
        const setup = [];
        if (this.password) setup.push(this.username ? ['AUTH', this.username, this.password] : ['AUTH', this.password]);
        if (this.db) setup.push(['SELECT', this.db]);
        Promise.all(setup.map((args) => this.send(args))).then(() => resolve(), (err) => {
          socket.destroy();
          reject(err);
        });
      });
      socket.on('data', (chunk) => {
        let replies;
        try {
          replies = parser.push(chunk);
        } catch (err) {
          socket.destroy(err);
          return;
        }
        for (const reply of replies) {
          const entry = this.pending.shift();
          if (!entry) continue;
          clearTimeout(entry.timer);
          if (reply instanceof RedisReplyError) entry.reject(reply);
          else entry.resolve(reply);
        }
      });
      socket.on('error', (err) => {
        lastError = err;
      });
      socket.on('close', () => {
        clearTimeout(timer);
        const err = lastError || new Error('connection to Redis closed');
        reject(err);
        if (this.socket !== socket) return;
        this.socket = null;
        this.ready = null;
        for (const entry of this.pending.splice(0)) {
          clearTimeout(entry.timer);
          entry.reject(err);
        }
      });
    });
  }

  send(args) {
    return new Promise((resolve, reject) => {
      const socket = this.socket;
      if (!socket) {
        reject(new Error('connection to Redis closed'));
        return;
      }
      const entry = { resolve, reject };
      // Replies are matched by order, so after a timeout the connection is
      // dropped rather than risk pairing a late reply with the next command.
      entry.timer = setTimeout(() => {
        socket.destroy(new Error(`Redis ${args[0]} timed out after ${this.commandTimeoutMs} ms`));
      }, this.commandTimeoutMs);
      this.pending.push(entry);
      socket.write(encodeCommand(args));
    });
  }
}

module.exports = { RedisClient };
