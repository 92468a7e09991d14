import type { BrokerMessage, HeaderValue, MessageHeaders, MessageProperties } from '@tq/core/adapter';
import { MessageDecodeError, pythonHeadersJson, pythonJsonString, pythonJsonStringify, safeJsonParse } from '@tq/core/adapter';
import { fromWirePriority } from './priority.js';

/**
 * kombu's Redis message envelope: the JSON object LPUSHed onto a queue list. The body is
 * base64 text (body_encoding "base64"), the rest mirrors AMQP properties. Written with
 * pythonJsonStringify so a tq message is byte-for-byte what kombu's json.dumps writes:
 *
 *   {"body": "<base64>", "content-encoding": "utf-8", "content-type": "application/json",
 *    "headers": {...}, "properties": {"correlation_id": …, "reply_to": …, "delivery_mode": 2,
 *    "delivery_info": {"exchange": "", "routing_key": "celery"}, "priority": 0,
 *    "body_encoding": "base64", "delivery_tag": "<uuid4>"}}
 */
export interface Envelope {
  body: string;
  'content-encoding': string;
  'content-type': string;
  headers: Record<string, HeaderValue>;
  properties: EnvelopeProperties;
}

export interface EnvelopeProperties {
  correlation_id?: string;
  reply_to?: string;
  delivery_mode?: number;
  delivery_info: { exchange: string; routing_key: string; redelivered?: boolean; [key: string]: HeaderValue | undefined };
  priority?: number;
  body_encoding?: string;
  delivery_tag: string;
  [key: string]: unknown;
}

export interface EnvelopeAddress {
  readonly exchange: string;
  readonly routingKey: string;
  readonly deliveryTag: string;
  /** kombu's number (0 = most urgent), see priority.ts; undefined when the message has none. */
  readonly wirePriority: number | undefined;
}

/** A decoded envelope: the message for core plus what the adapter needs to ack or restore it. */
export interface DecodedEnvelope {
  readonly envelope: Envelope;
  readonly message: BrokerMessage;
  readonly redelivered: boolean;
  readonly deliveryTag: string;
  readonly exchange: string;
  readonly routingKey: string;
}

/**
 * The envelope text for a message published by tq: what serializeEnvelope would write for the
 * envelope kombu builds (key order included), written straight from the message. This runs
 * once per publish, so it skips the intermediate object and the scan of the base64 body.
 */
export function encodeEnvelope(message: BrokerMessage, address: EnvelopeAddress): string {
  const [before, after] = envelopeAround(message, address);
  return `${before}${base64Of(message.body)}${after}`;
}

/**
 * The same envelope as bytes (ASCII, so its Latin-1 bytes are its UTF-8 bytes), written piece by
 * piece: a large body (a batch of events) is not first joined into one text and then copied.
 */
export function encodeEnvelopeBytes(message: BrokerMessage, address: EnvelopeAddress): Buffer {
  const [before, after] = envelopeAround(message, address);
  const body = base64Of(message.body);
  const bytes = Buffer.allocUnsafe(before.length + body.length + after.length);
  let offset = bytes.write(before, 0, 'latin1');
  offset += bytes.write(body, offset, 'latin1');
  bytes.write(after, offset, 'latin1');
  return bytes;
}

function base64Of(body: Uint8Array): string {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64');
}

/** The envelope's text before its base64 body and after it. */
function envelopeAround(message: BrokerMessage, address: EnvelopeAddress): [before: string, after: string] {
  const p = message.properties;
  const str = pythonJsonString;
  // Absent fields stay absent (kombu reads them with defaults), so a message arrives as it was sent.
  let properties = '{';
  if (p.correlationId !== undefined) properties += `"correlation_id": ${str(p.correlationId)}, `;
  if (p.replyTo !== undefined) properties += `"reply_to": ${str(p.replyTo)}, `;
  if (p.deliveryMode !== undefined) properties += `"delivery_mode": ${p.deliveryMode}, `;
  properties += `"delivery_info": {"exchange": ${str(address.exchange)}, "routing_key": ${str(address.routingKey)}}, `;
  if (address.wirePriority !== undefined) properties += `"priority": ${address.wirePriority}, `;
  properties += `"body_encoding": "base64", "delivery_tag": ${str(address.deliveryTag)}}`;
  return [
    '{"body": "',
    `", "content-encoding": ${str(p.contentEncoding)}, "content-type": ${str(p.contentType)}, "headers": ${pythonHeadersJson(message.headers)}, "properties": ${properties}}`,
  ];
}

/** The exact text kombu would write for this envelope (restores and dead letters; publishes use encodeEnvelope). */
export function serializeEnvelope(envelope: Envelope): string {
  return pythonJsonStringify(envelope);
}

/** The envelope as kombu restores it: flagged redelivered in headers and delivery_info. */
export function markRedelivered(envelope: Envelope): Envelope {
  return {
    ...envelope,
    headers: { ...envelope.headers, redelivered: true },
    properties: { ...envelope.properties, delivery_info: { ...envelope.properties.delivery_info, redelivered: true } },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Parses one list item; throws MessageDecodeError naming the bad field. */
export function decodeEnvelope(text: string): DecodedEnvelope {
  let parsed: unknown;
  try {
    parsed = safeJsonParse(text);
  } catch (cause) {
    if (cause instanceof MessageDecodeError) throw cause;
    throw new MessageDecodeError('envelope', 'not JSON', { cause });
  }
  if (!isObject(parsed)) throw new MessageDecodeError('envelope', 'not a JSON object');
  const { body, headers, properties } = parsed;
  if (typeof body !== 'string') throw new MessageDecodeError('envelope.body', 'not a string');
  if (headers !== undefined && headers !== null && !isObject(headers)) throw new MessageDecodeError('envelope.headers', 'not an object');
  if (!isObject(properties)) throw new MessageDecodeError('envelope.properties', 'not an object');
  const deliveryInfo = isObject(properties['delivery_info']) ? properties['delivery_info'] : {};
  const contentType = parsed['content-type'];
  const contentEncoding = parsed['content-encoding'];
  if (typeof contentType !== 'string') throw new MessageDecodeError('envelope.content-type', 'missing');

  const bodyEncoding = properties['body_encoding'];
  let bytes: Uint8Array;
  if (bodyEncoding === 'base64') bytes = new Uint8Array(Buffer.from(body, 'base64'));
  else if (bodyEncoding === undefined || bodyEncoding === null) bytes = new TextEncoder().encode(body);
  else throw new MessageDecodeError('envelope.properties.body_encoding', `unsupported "${String(bodyEncoding)}"`);

  const rawHeaders = (headers ?? {}) as Record<string, HeaderValue>;
  // kombu marks a restored message with headers.redelivered; it is transport state, not a task
  // header. Most messages have none: their headers are used as parsed, without a copy.
  let taskHeaders = rawHeaders;
  let headerRedelivered: HeaderValue | undefined;
  if (Object.hasOwn(rawHeaders, 'redelivered')) {
    ({ redelivered: headerRedelivered, ...taskHeaders } = rawHeaders);
  }
  const redelivered = headerRedelivered === true || deliveryInfo['redelivered'] === true;

  const messageProperties: { -readonly [K in keyof MessageProperties]: MessageProperties[K] } = {
    contentType,
    contentEncoding: typeof contentEncoding === 'string' ? contentEncoding : 'binary',
  };
  if (properties['priority'] !== undefined && properties['priority'] !== null) messageProperties.priority = fromWirePriority(properties['priority']);
  if (properties['delivery_mode'] === 1 || properties['delivery_mode'] === 2) messageProperties.deliveryMode = properties['delivery_mode'];
  if (typeof properties['correlation_id'] === 'string') messageProperties.correlationId = properties['correlation_id'];
  if (typeof properties['reply_to'] === 'string') messageProperties.replyTo = properties['reply_to'];

  const deliveryTag = properties['delivery_tag'];
  return {
    envelope: parsed as unknown as Envelope,
    message: { body: bytes, headers: taskHeaders as MessageHeaders, properties: messageProperties },
    redelivered,
    deliveryTag: typeof deliveryTag === 'string' ? deliveryTag : String(deliveryTag ?? ''),
    exchange: typeof deliveryInfo['exchange'] === 'string' ? deliveryInfo['exchange'] : '',
    routingKey: typeof deliveryInfo['routing_key'] === 'string' ? deliveryInfo['routing_key'] : '',
  };
}
