import type { Message, Options } from 'amqplib';
import type { BrokerMessage, MessageProperties } from '@tq/core/adapter';
import { fromAmqpHeaders, toAmqpHeaders } from './field-table.js';

/**
 * BrokerMessage → amqplib publish options, with the properties Celery sets on a task
 * message: content_type, content_encoding, headers, delivery_mode (2 unless transient),
 * priority (0 when unset, as Celery sends), correlation_id and reply_to.
 */
export function toPublishOptions(message: BrokerMessage): Options.Publish {
  const p = message.properties;
  return {
    contentType: p.contentType,
    contentEncoding: p.contentEncoding,
    headers: toAmqpHeaders(message.headers),
    deliveryMode: p.deliveryMode ?? 2,
    priority: p.priority ?? 0,
    ...(p.correlationId !== undefined ? { correlationId: p.correlationId } : {}),
    ...(p.replyTo !== undefined ? { replyTo: p.replyTo } : {}),
  };
}

/** A received amqplib message → BrokerMessage (headers as JSON-compatible values). */
export function toBrokerMessage(message: Message): BrokerMessage {
  const p = message.properties;
  const properties: { -readonly [K in keyof MessageProperties]: MessageProperties[K] } = {
    // A message without content type cannot pass an accept list; say so instead of guessing.
    contentType: typeof p.contentType === 'string' ? p.contentType : 'application/octet-stream',
    contentEncoding: typeof p.contentEncoding === 'string' ? p.contentEncoding : 'binary',
  };
  if (typeof p.correlationId === 'string') properties.correlationId = p.correlationId;
  if (typeof p.replyTo === 'string') properties.replyTo = p.replyTo;
  if (typeof p.priority === 'number') properties.priority = p.priority;
  if (p.deliveryMode === 1 || p.deliveryMode === 2) properties.deliveryMode = p.deliveryMode;
  return { body: new Uint8Array(message.content.buffer, message.content.byteOffset, message.content.byteLength), headers: fromAmqpHeaders(p.headers), properties };
}
