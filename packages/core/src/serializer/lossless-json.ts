import { randomUUID } from 'node:crypto';
import { MessageDecodeError } from '../errors.js';
import { decodeJsonBody, endOfString, jsonSerializer, parseWithNonFinite, safeJsonParse } from './json.js';
import type { Serializer } from './serializer.js';

/** Stands in for a big integer while JSON.parse runs; the nonce keeps real strings from matching. */
const marker = `\u0000tq-bigint-${randomUUID()}:`;
const markerJson = `\\u0000tq-bigint-${marker.slice('\u0000tq-bigint-'.length)}`;
const numberToken = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * JSON.parse, except that integers beyond ±(2^53 − 1) become BigInt instead of losing digits
 * (Python sends ints of any size; JSON.parse rounds them to the nearest double). Integers within
 * range and every float stay numbers. Texts without such an integer take JSON.parse's path.
 */
export function parseJsonLossless(text: string): unknown {
  // Python's NaN, Infinity and -Infinity too, as safeJsonParse reads them.
  return parseWithNonFinite(text, parseLossless);
}

function parseLossless(text: string): unknown {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = endOfString(text, i);
      continue;
    }
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) continue;
    numberToken.lastIndex = i;
    const token = numberToken.exec(text)?.[0];
    if (!token) continue;
    const isInteger = !/[.eE]/.test(token);
    if (isInteger && token.replace('-', '').length >= 16 && !Number.isSafeInteger(Number(token))) {
      out += `${text.slice(from, i)}"${markerJson}${token}"`;
      from = i + token.length;
    }
    i += token.length - 1;
  }
  if (from === 0) return safeJsonParse(text);
  return JSON.parse(out + text.slice(from), function (key, value: unknown) {
    if (key === '__proto__') throw new MessageDecodeError('body', 'forbidden key "__proto__"');
    if (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value) {
      throw new MessageDecodeError('body', 'forbidden key "constructor.prototype"');
    }
    return typeof value === 'string' && value.startsWith(marker) ? BigInt(value.slice(marker.length)) : value;
  });
}

/**
 * JSON (application/json, Celery's "json") that keeps integers beyond 2^53 exact: they decode
 * as BigInt. Encoding is the default JSON's (BigInt is always written as a JSON integer). Opt in
 * with `createApp({ serializers: [losslessJsonSerializer] })`; it replaces the default JSON
 * serializer for task messages. See docs/protocol.md ("Large integers").
 */
export const losslessJsonSerializer: Serializer = {
  contentType: jsonSerializer.contentType,
  name: jsonSerializer.name,
  contentEncoding: 'utf-8',
  encode: (value) => jsonSerializer.encode(value),
  decode: (body) => decodeJsonBody(body, parseJsonLossless),
};
