import { MessageDecodeError } from '../errors.js';
import type { Serializer } from './serializer.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON written byte for byte as Python's json.dumps writes it (kombu's default): ", " and ": "
 * separators and non-ASCII escaped as \uXXXX, so a message tq sends is indistinguishable from
 * Celery's. Numbers are JavaScript numbers: 1.0 is written as 1 (JSON has no float/int split).
 * Dates are written as ISO strings; undefined object members are omitted, as JSON.stringify does.
 */
export function pythonJsonStringify(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('value is not JSON-serializable');
  const spaced = spaceSeparators(json);
  return nonAscii.test(spaced) ? spaced.replace(nonAsciiGlobal, escapeChar) : spaced;
}

/** One string as pythonJsonStringify writes it, without the separator pass a string does not need. */
export function pythonJsonString(text: string): string {
  const json = JSON.stringify(text);
  return nonAscii.test(text) ? json.replace(nonAsciiGlobal, escapeChar) : json;
}

/**
 * ", " and ": " between tokens; strings are skipped whole (they may hold commas and colons),
 * jumping to each closing quote with indexOf, so a long string (a base64 body) costs no loop
 * of ours per character.
 */
function spaceSeparators(json: string): string {
  let out = '';
  let from = 0;
  let i = 0;
  while (i < json.length) {
    const c = json.charCodeAt(i);
    if (c === 34 /* " */) {
      let end = i + 1;
      for (;;) {
        end = json.indexOf('"', end);
        let backslashes = 0;
        while (json.charCodeAt(end - 1 - backslashes) === 92 /* \ */) backslashes++;
        if (backslashes % 2 === 0) break; // an escaped quote does not end the string
        end++;
      }
      i = end + 1;
    } else if (c === 44 /* , */ || c === 58 /* : */) {
      out += `${json.slice(from, i + 1)} `;
      from = ++i;
    } else {
      i++;
    }
  }
  return from === 0 ? json : out + json.slice(from);
}

const nonAscii = /[\u0080-\uffff]/;
const nonAsciiGlobal = /[\u0080-\uffff]/g;
const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * JSON.parse that refuses keys able to pollute prototypes when the result is later merged
 * into another object ("__proto__", and "constructor" holding "prototype").
 */
export function safeJsonParse(text: string): unknown {
  // The reviver costs a call per value: only texts that could spell a dangerous key need it.
  if (!mayPollute.test(text)) return JSON.parse(text);
  return JSON.parse(text, function (key, value: unknown) {
    if (key === '__proto__') throw new MessageDecodeError('body', 'forbidden key "__proto__"');
    if (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value) {
      throw new MessageDecodeError('body', 'forbidden key "constructor.prototype"');
    }
    return value;
  });
}

const mayPollute = /__proto__|constructor|\\u/;

export const jsonSerializer: Serializer = {
  contentType: 'application/json',
  name: 'json',
  contentEncoding: 'utf-8',
  encode(value) {
    return encoder.encode(pythonJsonStringify(value));
  },
  decode(body) {
    let text: string;
    try {
      text = decoder.decode(body);
    } catch (cause) {
      throw new MessageDecodeError('body', 'not valid UTF-8', { cause });
    }
    try {
      return safeJsonParse(text);
    } catch (cause) {
      if (cause instanceof MessageDecodeError) throw cause;
      throw new MessageDecodeError('body', `not valid JSON (${(cause as Error).message})`, { cause });
    }
  },
};
