'use strict';
// Secrets delivered as files (Docker and Compose secrets under /run/secrets):
// NAME_FILE=/path makes the file's content the value of NAME, so secrets never
// sit in the container's environment, where `docker inspect` shows them.
const fs = require('node:fs');

const SUFFIX = '_FILE';

// Returns a copy of env with every NAME_FILE resolved into NAME, and the
// problems found (a file that cannot be read, NAME set both ways).
function resolveSecretFiles(env, readFile = (path) => fs.readFileSync(path, 'utf8')) {
  const resolved = { ...env };
  const errors = [];
  for (const [variable, path] of Object.entries(env)) {
    if (!variable.endsWith(SUFFIX) || variable.length === SUFFIX.length || !path) continue;
    const name = variable.slice(0, -SUFFIX.length);
    if (env[name]) {
      errors.push({ variable, message: `${variable} and ${name} are both set: set only one of them` });
      continue;
    }
    try {
      // One trailing line break is the file's, not the secret's (echo, editors).
      resolved[name] = readFile(path).replace(/\r?\n$/, '');
    } catch (err) {
      errors.push({ variable, message: `${variable} names ${path}, which cannot be read (${err.code || err.message})` });
    }
  }
  return { env: resolved, errors };
}

module.exports = { resolveSecretFiles };
