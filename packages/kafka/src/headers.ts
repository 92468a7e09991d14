import type { BrokerMessage, MessageHeaders, MessageProperties } from '@tq/core/adapter';
import { safeJsonParse } from '@tq/core/adapter';

/**
 * Celery headers and properties travel in ONE Kafka header, `tq`, holding the JSON text
 * {"headers": {...}, "properties": {...}}. One JSON header round-trips every HeaderValue
 * (nested objects, arrays, null, numbers) byte-exactly, which per-key Kafka headers (bytes
 * only, no types) cannot. Two more headers are plain flags:
 *   tq-redelivered: "1" on a copy republished by reject(true);
 *   tq-dead-letter-from: the topic a dead-lettered copy came from.
 */
export const envelopeHeader = 'tq';
export const redeliveredHeader = 'tq-redelivered';
export const deadLetterFromHeader = 'tq-dead-letter-from';

export type KafkaHeaders = Record<string, Buffer>;

export function encodeHeaders(message: BrokerMessage, extra: Record<string, string> = {}): KafkaHeaders {
  const envelope = JSON.stringify({ headers: message.headers, properties: message.properties });
  const headers: KafkaHeaders = { [envelopeHeader]: Buffer.from(envelope, 'utf8') };
  for (const [key, value] of Object.entries(extra)) headers[key] = Buffer.from(value, 'utf8');
  return headers;
}

/** kafkajs hands header values as Buffer, string, or arrays of them for repeated keys. */
type IncomingHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined;

export function headerText(headers: IncomingHeaders, key: string): string | undefined {
  const value = headers?.[key];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : typeof first === 'string' ? first : first.toString('utf8');
}

/**
 * The Celery headers and properties of a Kafka message. A message without a valid `tq` header
 * (written by another producer) still comes through, with empty headers and its bytes as an
 * opaque body: core's decoder then rejects it to the dead-letter topic instead of the
 * consumer stalling on it.
 */
export function decodeHeaders(headers: IncomingHeaders): { headers: MessageHeaders; properties: MessageProperties } {
  const text = headerText(headers, envelopeHeader);
  if (text !== undefined) {
    try {
      // Refuses prototype-polluting keys; plain JSON.parse when the text cannot spell one.
      const envelope = safeJsonParse(text) as {
        headers?: unknown;
        properties?: unknown;
      } | null;
      if (isRecord(envelope?.headers) && isRecord(envelope.properties) && typeof envelope.properties.contentType === 'string') {
        return { headers: envelope.headers as MessageHeaders, properties: envelope.properties as unknown as MessageProperties };
      }
    } catch {
      // fall through to the opaque form
    }
  }
  return { headers: {}, properties: { contentType: headerText(headers, 'content-type') ?? 'application/octet-stream', contentEncoding: 'binary' } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
