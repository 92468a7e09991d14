import type { Message, Options } from 'amqplib';
import type { BrokerMessage, MessageProperties } from '@tq/core/adapter';
import { fromAmqpHeaders, toAmqpHeaders } from './field-table.js';

/**
 * BrokerMessage → amqplib publish options, property for property: what core sets is sent
 * and nothing else, so a message round-trips exactly. Core's encoder sets what Celery sets on
 * a task message (delivery_mode 2, priority 0, correlation_id, reply_to).
 */
export function toPublishOptions(message: BrokerMessage): Options.Publish {
  const p = message.properties;
  return {
    contentType: p.contentType,
    contentEncoding: p.contentEncoding,
    headers: toAmqpHeaders(message.headers),
    ...(p.deliveryMode !== undefined ? { deliveryMode: p.deliveryMode } : {}),
    ...(p.priority !== undefined ? { priority: p.priority } : {}),
    ...(p.correlationId !== undefined ? { correlationId: p.correlationId } : {}),
    ...(p.replyTo !== undefined ? { replyTo: p.replyTo } : {}),
  };
}

/**
 * Headers RabbitMQ adds on its own (quorum queues count deliveries; dead-lettering records
 * its history). They are not part of the message a producer sent, so they are not passed on:
 * a message reads the same after a requeue or a dead-lettering as when it was published.
 */
const brokerAddedHeaders = /^x-(delivery-count|death|first-death-.*|last-death-.*)$/;

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
  return { body: new Uint8Array(message.content.buffer, message.content.byteOffset, message.content.byteLength), headers: fromAmqpHeaders(p.headers, brokerAddedHeaders), properties };
}
