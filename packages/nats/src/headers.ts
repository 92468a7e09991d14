/**
 * Celery protocol v2 headers and AMQP-style properties ↔ NATS headers.
 *
 * NATS header values are strings (CR/LF forbidden, surrounding spaces trimmed), so:
 *   - each Celery header `k` becomes the NATS header `Celery-<k>`, its value written as JSON
 *     (Python's json.dumps form, ASCII only): 0 stays a number, "0" a string, null/true/arrays/
 *     objects survive, and the round trip is exact. Example: `Celery-retries: 0`,
 *     `Celery-task: "proj.add"`, `Celery-timelimit: [null, null]`.
 *   - properties become `Content-Type`, `Content-Encoding`, `Correlation-Id`, `Reply-To`
 *     (plain text; a value that would not survive as plain text — surrounding spaces, CR/LF,
 *     a leading '"' — is written as a JSON string instead) and `Priority`, `Delivery-Mode` (decimal).
 * Header names keep their case on the wire; bytes that a header name cannot hold (':', '%',
 * space, control and non-ASCII characters) are written as %XX. NATS-owned headers (Nats-*) and
 * any other header are ignored on the way in.
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { MessageDecodeError, pythonJsonStringify, safeJsonParse } from '@tq/core/adapter';
import type { HeaderValue, MessageHeaders, MessageProperties } from '@tq/core/adapter';

export const celeryHeaderPrefix = 'Celery-';

const propertyHeaders = {
  contentType: 'Content-Type',
  contentEncoding: 'Content-Encoding',
  correlationId: 'Correlation-Id',
  replyTo: 'Reply-To',
} as const;

const encoder = new TextEncoder();

function escapeHeaderName(name: string): string {
  let out = '';
  for (const ch of name) {
    const code = ch.charCodeAt(0);
    if (ch.length === 1 && code >= 33 && code <= 126 && ch !== ':' && ch !== '%') out += ch;
    else for (const byte of encoder.encode(ch)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function unescapeHeaderName(name: string): string {
  return name.includes('%') ? decodeURIComponent(name) : name;
}

/** Python's json.dumps form; primitives (most Celery headers) skip the general writer. */
function encodeJson(value: HeaderValue): string {
  if (typeof value === 'string') return asciiOnly(JSON.stringify(value));
  if (value === null || typeof value === 'boolean' || typeof value === 'number') return JSON.stringify(value);
  return pythonJsonStringify(value);
}

function asciiOnly(json: string): string {
  // eslint-disable-next-line no-control-regex
  return /[^\x00-\x7f]/.test(json) ? json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}

function encodeText(value: string): string {
  return value === value.trim() && !/[\r\n]/.test(value) && !value.startsWith('"') ? value : encodeJson(value);
}

function decodeText(value: string, field: string): string {
  if (!value.startsWith('"')) return value;
  const parsed = parseJson(value, field);
  if (typeof parsed !== 'string') throw new MessageDecodeError(field, 'expected a JSON string');
  return parsed;
}

function parseJson(value: string, field: string): unknown {
  try {
    // Only an object can carry a prototype-polluting key: primitives take the fast parser.
    return value.includes('{') ? safeJsonParse(value) : JSON.parse(value);
  } catch (cause) {
    if (cause instanceof MessageDecodeError) throw cause;
    throw new MessageDecodeError(field, `not valid JSON: ${value.slice(0, 80)}`, { cause });
  }
}

/** The NATS headers for a task message (without Nats-Msg-Id, which the broker adds). */
export function encodeHeaders(headers: MessageHeaders, properties: MessageProperties): MsgHdrs {
  const h = natsHeaders();
  // append, not set: names are unique here, and nats.js's set() scans every header first.
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    h.append(`${celeryHeaderPrefix}${escapeHeaderName(key)}`, encodeJson(value));
  }
  for (const [property, headerName] of Object.entries(propertyHeaders)) {
    const value = properties[property as keyof typeof propertyHeaders];
    if (value !== undefined) h.append(headerName, encodeText(value));
  }
  if (properties.priority !== undefined) h.append('Priority', String(properties.priority));
  if (properties.deliveryMode !== undefined) h.append('Delivery-Mode', String(properties.deliveryMode));
  return h;
}

type MutableProperties = { -readonly [K in keyof MessageProperties]: MessageProperties[K] };

/**
 * Celery headers and properties back from NATS headers, in one pass (nats.js's get/has scan
 * every header on each call). A message published without tq's headers (e.g. by `nats pub`)
 * gets application/octet-stream, which core's accept list refuses.
 */
export function decodeHeaders(h: MsgHdrs | undefined): { headers: MessageHeaders; properties: MessageProperties } {
  const headers: Record<string, HeaderValue> = {};
  const properties: MutableProperties = { contentType: 'application/octet-stream', contentEncoding: 'binary' };
  if (!h) return { headers, properties };
  for (const [name, values] of h) {
    const value = values[0] ?? '';
    if (name.startsWith(celeryHeaderPrefix)) {
      const key = unescapeHeaderName(name.slice(celeryHeaderPrefix.length));
      headers[key] = parseJson(value, `headers.${key}`) as HeaderValue;
      continue;
    }
    switch (name) {
      case propertyHeaders.contentType:
        properties.contentType = decodeText(value, 'properties.contentType');
        break;
      case propertyHeaders.contentEncoding:
        properties.contentEncoding = decodeText(value, 'properties.contentEncoding');
        break;
      case propertyHeaders.correlationId:
        properties.correlationId = decodeText(value, 'properties.correlationId');
        break;
      case propertyHeaders.replyTo:
        properties.replyTo = decodeText(value, 'properties.replyTo');
        break;
      case 'Priority': {
        const priority = Number(value);
        if (!Number.isInteger(priority)) throw new MessageDecodeError('properties.priority', `not an integer: ${value}`);
        properties.priority = priority;
        break;
      }
      case 'Delivery-Mode': {
        const mode = Number(value);
        if (mode !== 1 && mode !== 2) throw new MessageDecodeError('properties.deliveryMode', `expected 1 or 2, got ${value}`);
        properties.deliveryMode = mode;
        break;
      }
    }
  }
  return { headers, properties };
}
