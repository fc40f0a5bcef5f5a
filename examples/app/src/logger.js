'use strict';
// One JSON object per line on stdout: {ts, level, msg, ...fields}.
const { maskUrl } = require('./redact');

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 };

function serializeError(err) {
  return { type: err.name, message: err.message, code: err.code, stack: err.stack };
}

function createLogger({ level = 'info', stream = process.stdout } = {}) {
  const threshold = LEVELS[level] ?? LEVELS.info;

  function write(lvl, msg, fields = {}) {
    if (LEVELS[lvl] < threshold) return;
    const entry = { ts: new Date().toISOString(), level: lvl, msg };
    for (const [key, value] of Object.entries(fields)) {
      entry[key] = value instanceof Error ? serializeError(value) : value;
    }
    stream.write(`${maskUrl(JSON.stringify(entry))}\n`);
  }

  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}

module.exports = { createLogger, LEVELS };
