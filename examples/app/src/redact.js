'use strict';
// Keeps passwords in connection URLs out of logs. The logger passes every
// line through maskUrl, so a URL that slips into an error message is masked
// too: scheme://user:password@host -> scheme://user:***@host

const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@"]*:)[^\s@"/]*@/gi;

function maskUrl(text) {
  return String(text).replace(URL_CREDENTIALS, '$1***@');
}

module.exports = { maskUrl };
