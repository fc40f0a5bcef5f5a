'use strict';
// Keeps secrets out of logs. Every log line passes through redactText, so a
// connection string that slips into an error message is still masked.

const MASK = '***';

// scheme://user:password@  ->  scheme://user:***@
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@"]*:)[^\s@"/]*@/gi;

function maskUrl(url) {
  return String(url).replace(URL_CREDENTIALS, `$1${MASK}@`);
}

// Secrets shorter than this are not replaced literally: masking "a" would
// mangle every line while protecting nothing.
const MIN_LITERAL_SECRET = 4;

function redactText(text, secrets = []) {
  let out = maskUrl(text);
  for (const secret of secrets) {
    if (secret && secret.length >= MIN_LITERAL_SECRET) out = out.split(secret).join(MASK);
  }
  return out;
}

module.exports = { maskUrl, redactText, MASK };
