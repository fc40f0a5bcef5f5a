'use strict';
// One PostgreSQL connection over node:net: startup, authentication
// (cleartext, MD5, SCRAM-SHA-256) and queries run one at a time.
const crypto = require('node:crypto');
const net = require('node:net');
const protocol = require('./protocol');
const scram = require('./scram');
const { parseValue } = require('./types');

const { AUTH } = protocol;

class PgError extends Error {
  constructor(fields) {
    super(fields.M || 'unknown PostgreSQL error');
    this.name = 'PgError';
    this.code = fields.C;
    this.severity = fields.V || fields.S;
    this.detail = fields.D;
    this.hint = fields.H;
  }
}

const md5 = (text) => crypto.createHash('md5').update(text).digest('hex');

function md5Password(user, password, salt) {
  return `md5${md5(Buffer.concat([Buffer.from(md5(password + user)), salt]))}`;
}

// "INSERT 0 3" / "DELETE 1" / "SELECT 2" -> 3 / 1 / 2
function rowCountFromTag(tag) {
  const last = Number(tag.split(' ').pop());
  return Number.isInteger(last) ? last : 0;
}

class PgConnection {
  constructor({
    host, port, user, password = '', database, connectTimeoutMs = 5000, applicationName = 'auraspeak-example',
  }) {
    Object.assign(this, { host, port, user, password, database, connectTimeoutMs, applicationName });
    this.closed = false;
    this.onClose = null; // set by the pool to forget dead connections
    this.current = null; // handler of the startup or query in progress
    this.queue = Promise.resolve();
  }

  connect() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const where = `${this.host}:${this.port}`;
        this.destroy(new Error(`could not connect to PostgreSQL at ${where} within ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);
      const finish = (err) => {
        clearTimeout(timer);
        this.current = null;
        if (err) reject(err);
        else resolve(this);
      };
      this.current = this.startupHandler(finish);

      const reader = new protocol.MessageReader();
      this.socket = net.connect({ host: this.host, port: this.port });
      this.socket.setNoDelay(true);
      this.socket.on('connect', () => {
        this.socket.write(protocol.startupMessage({
          user: this.user,
          database: this.database,
          application_name: this.applicationName,
          client_encoding: 'UTF8',
          TimeZone: 'UTC',
        }));
      });
      this.socket.on('data', (chunk) => {
        for (const message of reader.push(chunk)) this.dispatch(message);
      });
      this.socket.on('error', (err) => this.destroy(err));
      this.socket.on('close', () => this.destroy(new Error('connection to PostgreSQL closed')));
    });
  }

  startupHandler(finish) {
    const scramState = {};
    return {
      fail: finish,
      onMessage: ({ type, body }) => {
        if (type === 'R') this.authenticate(protocol.parseAuthentication(body), scramState);
        else if (type === 'Z') finish();
        else if (type === 'E') this.destroy(new PgError(protocol.parseErrorFields(body)));
        // 'K' (cancel key) is not needed: timeouts close the connection instead.
      },
    };
  }

  authenticate(auth, state) {
    const needPassword = () => {
      if (!this.password) throw new Error('PostgreSQL asks for a password but DATABASE_URL has none');
    };
    switch (auth.code) {
      case AUTH.OK:
        return;
      case AUTH.CLEARTEXT:
        needPassword();
        this.socket.write(protocol.passwordMessage(this.password));
        return;
      case AUTH.MD5:
        needPassword();
        this.socket.write(protocol.passwordMessage(md5Password(this.user, this.password, auth.salt)));
        return;
      case AUTH.SASL: {
        needPassword();
        if (!auth.mechanisms.includes(scram.MECHANISM)) {
          throw new Error(`PostgreSQL offers only ${auth.mechanisms.join(', ')}; ${scram.MECHANISM} is supported`);
        }
        state.nonce = scram.createNonce();
        const first = scram.clientFirst(state.nonce);
        state.clientFirstBare = first.bare;
        this.socket.write(protocol.saslInitialResponse(scram.MECHANISM, first.message));
        return;
      }
      case AUTH.SASL_CONTINUE: {
        const server = scram.parseServerFirst(auth.data, state.nonce);
        const final = scram.clientFinal({
          password: this.password, clientFirstBare: state.clientFirstBare, serverFirst: auth.data, ...server,
        });
        state.serverSignature = final.serverSignature;
        this.socket.write(protocol.saslResponse(final.message));
        return;
      }
      case AUTH.SASL_FINAL:
        scram.verifyServerFinal(auth.data, state.serverSignature);
        return;
      default:
        throw new Error(`unsupported PostgreSQL authentication method (code ${auth.code})`);
    }
  }

  dispatch(message) {
    try {
      if (this.current) {
        this.current.onMessage(message);
      } else if (message.type === 'E') {
        // An error outside any query is fatal, e.g. the server shutting down.
        this.destroy(new PgError(protocol.parseErrorFields(message.body)));
      }
      // Notices ('N') and parameter changes ('S') are ignored.
    } catch (err) {
      this.destroy(err);
    }
  }

  // Extended protocol: values are sent as parameters $1, $2, ...
  query(sql, values = [], { timeoutMs = 0 } = {}) {
    return this.enqueue(protocol.extendedQuery(sql, values), timeoutMs);
  }

  // Simple protocol: may hold several statements (migration files do).
  // Returns the result of the last statement.
  simpleQuery(sql, { timeoutMs = 0 } = {}) {
    return this.enqueue(protocol.simpleQuery(sql), timeoutMs);
  }

  enqueue(request, timeoutMs) {
    const run = () => new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error('connection to PostgreSQL is closed'));
        return;
      }
      const timer = timeoutMs > 0
        ? setTimeout(() => this.destroy(new Error(`query timed out after ${timeoutMs} ms`)), timeoutMs)
        : null;
      const result = { command: null, rowCount: 0, rows: [] };
      let fields = [];
      let error = null;
      this.current = {
        fail: (err) => {
          clearTimeout(timer);
          reject(err);
        },
        onMessage: ({ type, body }) => {
          if (type === 'T') {
            fields = protocol.parseRowDescription(body);
            result.rows = [];
          } else if (type === 'D') {
            const values = protocol.parseDataRow(body);
            const row = {};
            fields.forEach((field, i) => {
              row[field.name] = parseValue(values[i], field.typeOid);
            });
            result.rows.push(row);
          } else if (type === 'C') {
            const tag = protocol.parseCString(body);
            result.command = tag.split(' ')[0];
            result.rowCount = rowCountFromTag(tag);
          } else if (type === 'E') {
            error = new PgError(protocol.parseErrorFields(body));
          } else if (type === 'Z') {
            clearTimeout(timer);
            this.current = null;
            if (error) reject(error);
            else resolve(result);
          }
        },
      };
      this.socket.write(request);
    });
    const pending = this.queue.then(run);
    this.queue = pending.catch(() => {});
    return pending;
  }

  // Ends the connection after an error; pending work fails with that error.
  destroy(err) {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const current = this.current;
    this.current = null;
    if (current) current.fail(err);
    if (this.onClose) this.onClose(this);
  }

  // Polite close: Terminate message, then wait for the socket to close.
  close() {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.onClose) this.onClose(this);
    return new Promise((resolve) => {
      // A server that does not hang up promptly is cut off.
      const timer = setTimeout(() => this.socket.destroy(), 1000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end(protocol.terminateMessage());
    });
  }
}

module.exports = { PgConnection, PgError, md5Password, rowCountFromTag };
