'use strict';
// build-info.json is written by the Dockerfile's build stage from the
// APP_VERSION, APP_REVISION and BUILD_DATE build args. Outside an image it
// does not exist and the defaults apply.
const fs = require('node:fs');
const path = require('node:path');

const BUILD_INFO_PATH = path.join(__dirname, '..', 'build-info.json');
const DEFAULTS = { version: 'dev', revision: 'unknown', build_date: 'unknown' };

function readBuildInfo(file = BUILD_INFO_PATH) {
  let parsed = {};
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if (err.code !== 'ENOENT') throw new Error(`cannot read ${file}: ${err.message}`);
  }
  return { ...DEFAULTS, ...parsed };
}

module.exports = { readBuildInfo };
