/**
 * Celery protocol v2 headers and AMQP-style properties ↔ NATS headers.
 *
 * Two NATS headers carry everything, each a JSON object on one line:
 *   Celery-Headers:    {"lang":"py","task":"proj.add","id":"…","retries":0,"eta":null,…}
 *   Celery-Properties: {"content_type":"application/json","content_encoding":"utf-8",
 *                       "correlation_id":"…","reply_to":"…","priority":0,"delivery_mode":2}
 * Property names are kombu's (Celery's wire names). JSON keeps every value's type (0 stays a
 * number, "0" a string; null, lists and objects survive) and the round trip is exact; non-ASCII
 * is written \uXXXX so the line is ASCII whatever the client. One header per Celery header
 * was measured first: nats.js builds and parses each header separately, and 16 of them cost
 * ~130 µs of client CPU per message, more than JetStream publish + consume + ack together.
 * NATS-owned headers (Nats-*) and any other header are ignored on the way in.
 */
import type { JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { MessageDecodeError, safeJsonParse } from '@tq/core/adapter';
import type { HeaderValue, MessageHeaders, MessageProperties } from '@tq/core/adapter';

export const celeryHeadersHeader = 'Celery-Headers';
export const celeryPropertiesHeader = 'Celery-Properties';

/** tq's property names → kombu's wire names. */
const wireNames = {
  contentType: 'content_type',
  contentEncoding: 'content_encoding',
  correlationId: 'correlation_id',
  replyTo: 'reply_to',
  priority: 'priority',
  deliveryMode: 'delivery_mode',
} as const satisfies Record<keyof MessageProperties, string>;

/** Compact JSON, ASCII only (JSON.stringify already escapes CR/LF and other controls). */
function asciiJson(value: unknown): string {
  const json = JSON.stringify(value);
  return /[^\x00-\x7f]/.test(json) ? json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}

/** The NATS headers for a task message (without Nats-Msg-Id, which the broker adds). */
export function encodeHeaders(headers: MessageHeaders, properties: MessageProperties): MsgHdrs {
  const wire: Record<string, unknown> = {};
  for (const [name, wireName] of Object.entries(wireNames)) {
    const value = properties[name as keyof MessageProperties];
    if (value !== undefined) wire[wireName] = value;
  }
  const h = natsHeaders();
  // append, not set: nats.js's set() scans every header first.
  h.append(celeryHeadersHeader, asciiJson(headers));
  h.append(celeryPropertiesHeader, asciiJson(wire));
  return h;
}

function parseObject(text: string, field: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    // Plain JSON.parse unless the text could spell a key that pollutes prototypes (core's check).
    parsed = safeJsonParse(text);
  } catch (cause) {
    if (cause instanceof MessageDecodeError) throw new MessageDecodeError(field, cause.message, { cause });
    throw new MessageDecodeError(field, `not valid JSON: ${text.slice(0, 80)}`, { cause });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new MessageDecodeError(field, 'expected a JSON object');
  return parsed as Record<string, unknown>;
}

type MutableProperties = { -readonly [K in keyof MessageProperties]: MessageProperties[K] };

/**
 * Celery headers and properties back from NATS headers. A message published without them
 * (e.g. by `nats pub`) gets no headers and application/octet-stream, which core's accept
 * list refuses.
 */
export function decodeHeaders(h: MsgHdrs | undefined): DecodedHeaders {
  if (!h) return fromValues(undefined, undefined);
  let headersText: string | undefined;
  let propertiesText: string | undefined;
  // One pass: nats.js's get()/has() scan every header on each call.
  for (const [name, values] of h) {
    if (name === celeryHeadersHeader) headersText ??= values[0] ?? '';
    else if (name === celeryPropertiesHeader) propertiesText ??= values[0] ?? '';
  }
  return fromValues(headersText, propertiesText);
}

/** What nats.js keeps of a received message (its internals: read only when present, see below). */
interface ReceivedMsg {
  readonly _rdata?: Uint8Array;
  readonly _msg?: { readonly hdr?: number };
}

const utf8 = new TextDecoder();

/**
 * A delivered message's raw header block as text, when nats.js keeps one as it did when this
 * was written (@nats-io/nats-core 3.4); undefined otherwise (then use `msg.headers`). nats.js's
 * own parser behind `msg.headers` splits, canonicalizes and validates every header character by
 * character: ~3.5 µs of a 31 µs task in a NATS drain at c=100 (CPU profile), more than parsing
 * both JSON values. The headers tq reads are found in this text with one search each
 * (headerLine).
 */
export function rawHeaderBlock(msg: JsMsg): string | undefined {
  const raw = (msg as unknown as { msg?: ReceivedMsg }).msg;
  const end = raw?._msg?.hdr;
  return raw?._rdata instanceof Uint8Array && typeof end === 'number' && end > 0 ? utf8.decode(raw._rdata.subarray(0, end)) : undefined;
}

/**
 * The first value of header `name` (exactly so spelled, as nats.js's get()) in a raw header
 * block ("NATS/1.0\r\nName: value\r\n…"), trimmed as nats.js trims it; undefined if absent.
 */
export function headerLine(block: string, name: string): string | undefined {
  const at = block.indexOf(`\r\n${name}:`);
  if (at < 0) return undefined;
  const from = at + name.length + 3;
  const end = block.indexOf('\r\n', from);
  return block.slice(from, end < 0 ? block.length : end).trim();
}

/**
 * decodeHeaders for a delivered message, from its raw header block (rawHeaderBlock) when there
 * is one: headerLine finds what nats.js's exact-name lookup would, so only a message without a
 * block goes through `msg.headers`.
 */
export function decodeDeliveredHeaders(msg: JsMsg, block: string | undefined = rawHeaderBlock(msg)): DecodedHeaders {
  if (block === undefined) return decodeHeaders(msg.headers);
  return fromValues(headerLine(block, celeryHeadersHeader), headerLine(block, celeryPropertiesHeader));
}

type DecodedHeaders = { headers: MessageHeaders; properties: MessageProperties };

function fromValues(headersText: string | undefined, propertiesText: string | undefined): DecodedHeaders {
  const headers = headersText === undefined ? {} : (parseObject(headersText, 'headers') as Record<string, HeaderValue>);
  const properties: MutableProperties = { contentType: 'application/octet-stream', contentEncoding: 'binary' };
  if (propertiesText === undefined) return { headers, properties };
  const wire = parseObject(propertiesText, 'properties');
  for (const [property, wireName] of Object.entries(wireNames)) {
    const v = wire[wireName];
    if (v === undefined || v === null) continue;
    if (property === 'priority' || property === 'deliveryMode') {
      if (!Number.isInteger(v)) throw new MessageDecodeError(`properties.${wireName}`, `expected an integer, got ${JSON.stringify(v)}`);
    } else if (typeof v !== 'string') {
      throw new MessageDecodeError(`properties.${wireName}`, `expected a string, got ${JSON.stringify(v)}`);
    }
    (properties as Record<string, unknown>)[property] = v;
  }
  return { headers, properties };
}
