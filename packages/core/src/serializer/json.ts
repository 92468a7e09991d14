import { randomUUID } from 'node:crypto';
import { MessageDecodeError } from '../errors.js';
import { PythonFloat, pythonFloatText } from './python-float.js';
import type { Serializer } from './serializer.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON written byte for byte as Python's json.dumps writes it (kombu's default): ", " and ": "
 * separators and non-ASCII escaped as \uXXXX, so a message tq sends is indistinguishable from
 * Celery's. Numbers are JavaScript numbers: 1.0 is written as 1 (JSON has no float/int split),
 * unless wrapped in PythonFloat.
 * Dates are written as ISO strings; undefined object members are omitted, as JSON.stringify does.
 */
export function pythonJsonStringify(value: unknown): string {
  let json: string | undefined;
  try {
    json = writeValue(value, '');
  } catch (error) {
    // Circular or too deep for the stack: JSON.stringify then throws its standard error (a
    // TypeError naming the cycle), or writes a value only it could reach, spaced afterwards.
    if (!(error instanceof RangeError)) throw error;
    return spacedStringify(value);
  }
  if (json === undefined) throw new TypeError('value is not JSON-serializable');
  return json;
}

/** The same text by JSON.stringify and a pass over its output (the fallback for very deep values). */
function spacedStringify(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('value is not JSON-serializable');
  const spaced = spaceSeparators(json);
  return nonAscii.test(spaced) ? spaced.replace(nonAsciiGlobal, escapeChar) : spaced;
}

/** `"key": ` for the keys seen most (message headers, record fields): written once, reused. */
const keyTexts = new Map<string, string>();
function keyText(key: string): string {
  let text = keyTexts.get(key);
  if (text === undefined) {
    text = `${pythonJsonString(key)}: `;
    if (keyTexts.size < 10_000) keyTexts.set(key, text);
  }
  return text;
}

/**
 * JSON.stringify's algorithm (toJSON, boxed primitives, members omitted or nulled, key order)
 * writing Python's separators directly: faster than spacing JSON.stringify's output afterwards,
 * and this runs several times per message. undefined = nothing to write (as JSON.stringify).
 */
function writeValue(value: unknown, key: string): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return pythonJsonString(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      // An exact JSON integer: Python reads it as an int of any size (decode it back losslessly with losslessJsonSerializer).
      return value.toString();
    case 'object': {
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        // A PythonFloat has a toJSON too (for JSON.stringify): checked here, off the plain objects' path.
        if (value instanceof PythonFloat) return pythonFloatText(value.value);
        return writeValue(toJSON.call(value, key), key);
      }
      if (value instanceof Number || value instanceof String || value instanceof Boolean) return writeValue(value.valueOf(), key);
      if (Array.isArray(value)) {
        let text = '[';
        for (let i = 0; i < value.length; i++) text += `${i === 0 ? '' : ', '}${writeValue(value[i], String(i)) ?? 'null'}`;
        return `${text}]`;
      }
      let text = '{';
      let first = true;
      for (const name of Object.keys(value)) {
        const member = writeValue((value as Record<string, unknown>)[name], name);
        if (member === undefined) continue;
        text += `${first ? '' : ', '}${keyText(name)}${member}`;
        first = false;
      }
      return `${text}}`;
    }
    default:
      return undefined; // undefined, functions, symbols
  }
}

/**
 * One string as pythonJsonStringify writes it, without the separator pass a string does not need.
 * A string with nothing to escape (ids, task names, most arguments and reprs) is quoted as it
 * is, after one regular-expression check: JSON.stringify's writer costs tens of instructions a
 * character, and every message carries an argument repr (issue #17's enqueue profile).
 */
export function pythonJsonString(text: string): string {
  if (!needsEscape.test(text)) return `"${text}"`;
  const json = JSON.stringify(text);
  return nonAscii.test(text) ? json.replace(nonAsciiGlobal, escapeChar) : json;
}

/**
 * One member's value for a text written from a template (events, task headers): a string through
 * pythonJsonString, null or undefined as null, anything else through pythonJsonStringify.
 */
export function pythonJsonValue(value: unknown): string {
  if (typeof value === 'string') return pythonJsonString(value);
  return value === null || value === undefined ? 'null' : pythonJsonStringify(value);
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

/**
 * What Python's json.dumps escapes (ensure_ascii): everything outside ' '..'~', so DEL (0x7f)
 * too, which JSON.stringify leaves as it is.
 */
const nonAscii = /[\u007f-\uffff]/;
const nonAsciiGlobal = /[\u007f-\uffff]/g;
/** Anything JSON.stringify or Python would write other than as it is: quotes, backslashes, control characters, non-ASCII. */
const needsEscape = /["\\\u0000-\u001f\u007f-\uffff]/;
const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * JSON.parse that refuses keys able to pollute prototypes when the result is later merged
 * into another object ("__proto__", and "constructor" holding "prototype").
 */
export function safeJsonParse(text: string): unknown {
  return parseWithNonFinite(text, parseRefusingPollution);
}

/**
 * `parse(text)`, reading Python's NaN, Infinity and -Infinity (json.dumps writes them; JSON.parse
 * refuses them) as numbers. Looked for only once `parse` has failed, so a valid text costs nothing more.
 */
export function parseWithNonFinite(text: string, parse: (text: string) => unknown): unknown {
  try {
    return parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    const rewritten = markNonFinite(text);
    if (rewritten === null) throw error;
    return restoreNonFinite(parse(rewritten));
  }
}

function parseRefusingPollution(text: string): unknown {
  // The reviver costs a call per value: only texts that could spell a dangerous key need it.
  if (!mayPollute(text)) return JSON.parse(text);
  return JSON.parse(text, function (key, value: unknown) {
    if (key === '__proto__') throw new MessageDecodeError('body', 'forbidden key "__proto__"');
    if (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value) {
      throw new MessageDecodeError('body', 'forbidden key "constructor.prototype"');
    }
    return value;
  });
}

/** Stands in for NaN, Infinity or -Infinity while JSON.parse runs; the nonce keeps real strings from matching. */
const nonFiniteMarker = `\u0000tq-float-${randomUUID()}:`;
const nonFiniteMarkerJson = `\\u0000${nonFiniteMarker.slice(1)}`;
const nonFiniteValues: Readonly<Record<string, number>> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY };

/** The index of the quote that closes the JSON string opening at `start` (escapes skipped), or the text's length. */
export function endOfString(text: string, start: number): number {
  let i = start + 1;
  for (; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
  return i;
}

/**
 * The text with each NaN, Infinity and -Infinity outside strings (what Python's json.dumps
 * writes for float('nan') and float('inf')) turned into a marker string; null when it has none.
 */
function markNonFinite(text: string): string | null {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = endOfString(text, i);
      continue;
    }
    const token = c === 0x4e /* N */ ? 'NaN' : c === 0x49 /* I */ ? 'Infinity' : c === 0x2d /* - */ ? '-Infinity' : '';
    if (!token || !text.startsWith(token, i)) continue;
    out += `${text.slice(from, i)}"${nonFiniteMarkerJson}${token}"`;
    from = i + token.length;
    i = from - 1;
  }
  return from === 0 ? null : out + text.slice(from);
}

/** The parsed value with every marker string of markNonFinite back as its number. */
function restoreNonFinite(value: unknown): unknown {
  const restore = (item: unknown): unknown => (typeof item === 'string' && item.startsWith(nonFiniteMarker) ? nonFiniteValues[item.slice(nonFiniteMarker.length)] : item);
  const root = restore(value);
  // Iterative: a deeply nested value must not exhaust the stack.
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const container = pending.pop();
    if (container === null || typeof container !== 'object') continue;
    const record = container as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (typeof item === 'string') record[key] = restore(item);
      else if (item !== null && typeof item === 'object') pending.push(item);
    }
  }
  return root;
}

/**
 * Whether a text could spell a dangerous key, plainly or through \u escapes: both keys the
 * reviver refuses need "proto" ("__proto__", or "prototype" under "constructor"). Two
 * substring searches: 0.2 µs on a 1.1 KB kombu envelope, against 0.4 with a third for
 * "constructor" (a regex with alternatives was slower still), and a Redis worker checks two
 * texts a task.
 */
function mayPollute(text: string): boolean {
  return text.includes('proto') || text.includes('\\u');
}

export const jsonSerializer: Serializer = {
  contentType: 'application/json',
  name: 'json',
  contentEncoding: 'utf-8',
  encode(value) {
    return encoder.encode(pythonJsonStringify(value));
  },
  decode: (body) => decodeJsonBody(body, safeJsonParse),
};

/** A UTF-8 JSON message body read with `parse`; bad bytes or JSON become MessageDecodeError. */
export function decodeJsonBody(body: Uint8Array, parse: (text: string) => unknown): unknown {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch (cause) {
    throw new MessageDecodeError('body', 'not valid UTF-8', { cause });
  }
  try {
    return parse(text);
  } catch (cause) {
    if (cause instanceof MessageDecodeError) throw cause;
    throw new MessageDecodeError('body', `not valid JSON (${(cause as Error).message})`, { cause });
  }
}
