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
  const json = JSON.stringify(value, null, 1);
  if (json === undefined) throw new TypeError('value is not JSON-serializable');
  return reformat(json);
}

// JSON.stringify with indentation puts every token on its own line; joining lines with
// Python's separators reproduces json.dumps' compact-with-spaces form without a custom writer.
function reformat(indented: string): string {
  let out = '';
  let i = 0;
  const n = indented.length;
  while (i < n) {
    const ch = indented[i]!;
    if (ch === '"') {
      const end = stringEnd(indented, i);
      out += asciiEscape(indented.slice(i, end));
      i = end;
    } else if (ch === '\n') {
      // Skip the newline and indentation; a comma before it already emitted ", ".
      i++;
      while (i < n && indented[i] === ' ') i++;
    } else if (ch === ',') {
      out += ', ';
      i++;
    } else if (ch === ':') {
      out += ': ';
      i += 2; // JSON.stringify with indent writes ": "
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

function stringEnd(s: string, start: number): number {
  let i = start + 1;
  while (i < s.length) {
    const c = s[i];
    if (c === '\\') i += 2;
    else if (c === '"') return i + 1;
    else i++;
  }
  return i;
}

function asciiEscape(quoted: string): string {
  return quoted.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * JSON.parse that refuses keys able to pollute prototypes when the result is later merged
 * into another object ("__proto__", and "constructor" holding "prototype").
 */
export function safeJsonParse(text: string): unknown {
  return JSON.parse(text, function (key, value: unknown) {
    if (key === '__proto__') throw new MessageDecodeError('body', 'forbidden key "__proto__"');
    if (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value) {
      throw new MessageDecodeError('body', 'forbidden key "constructor.prototype"');
    }
    return value;
  });
}

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
