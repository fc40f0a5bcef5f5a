'use strict';
// A small connection pool: at most `max` connections, reused between
// requests; callers wait (up to acquireTimeoutMs) when all are busy.
const { PgConnection } = require('./connection');

class PgPool {
  constructor(options, { max = 10, acquireTimeoutMs = 5000, queryTimeoutMs = 10000 } = {}) {
    Object.assign(this, { options, max, acquireTimeoutMs, queryTimeoutMs });
    this.all = new Set();
    this.idle = [];
    this.waiters = [];
    this.ended = false;
  }

  async query(sql, values, { timeoutMs = this.queryTimeoutMs } = {}) {
    const connection = await this.acquire();
    try {
      return await connection.query(sql, values, { timeoutMs });
    } finally {
      this.release(connection);
    }
  }

  async acquire() {
    if (this.ended) throw new Error('database pool is closed');
    const idle = this.idle.pop();
    if (idle) return idle;
    if (this.all.size < this.max) return this.open();
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no database connection free within ${this.acquireTimeoutMs} ms (pool max ${this.max})`));
      }, this.acquireTimeoutMs);
      this.waiters.push(waiter);
    });
  }

  async open() {
    const connection = new PgConnection(this.options);
    // Counted from the start so concurrent callers cannot exceed max.
    this.all.add(connection);
    connection.onClose = () => this.forget(connection);
    await connection.connect();
    return connection;
  }

  forget(connection) {
    this.all.delete(connection);
    const i = this.idle.indexOf(connection);
    if (i !== -1) this.idle.splice(i, 1);
    this.serveWaiter();
  }

  release(connection) {
    if (connection.closed) return; // forget() already ran
    if (this.ended) {
      connection.close();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(connection);
    } else {
      this.idle.push(connection);
    }
  }

  // A connection slot came free: open a new connection for the next waiter.
  serveWaiter() {
    if (this.ended || this.waiters.length === 0 || this.all.size >= this.max) return;
    const waiter = this.waiters.shift();
    clearTimeout(waiter.timer);
    this.open().then(waiter.resolve, waiter.reject);
  }

  async end() {
    this.ended = true;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('database pool is closed'));
    }
    await Promise.all([...this.idle].map((c) => c.close()));
  }
}

module.exports = { PgPool };
