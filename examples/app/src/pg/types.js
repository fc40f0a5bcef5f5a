'use strict';
// Converts text-format column values to JavaScript values by type OID.
// Types not listed stay strings (e.g. numeric, to keep its precision).

const OID = {
  BOOL: 16, INT8: 20, INT2: 21, INT4: 23, OID: 26, JSON: 114, FLOAT4: 700, FLOAT8: 701, TIMESTAMPTZ: 1184, JSONB: 3802,
};

function parseInt8(text) {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

// "2024-05-01 10:20:30.123456+00" -> Date. The session runs in UTC (see
// connection.js), but other offsets are handled too.
function parseTimestamptz(text) {
  const iso = text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? text : date;
}

const PARSERS = {
  [OID.BOOL]: (t) => t === 't',
  [OID.INT2]: Number,
  [OID.INT4]: Number,
  [OID.OID]: Number,
  [OID.INT8]: parseInt8,
  [OID.FLOAT4]: Number,
  [OID.FLOAT8]: Number,
  [OID.JSON]: JSON.parse,
  [OID.JSONB]: JSON.parse,
  [OID.TIMESTAMPTZ]: parseTimestamptz,
};

function parseValue(text, typeOid) {
  if (text === null) return null;
  const parser = PARSERS[typeOid];
  return parser ? parser(text) : text;
}

module.exports = { parseValue, OID };
