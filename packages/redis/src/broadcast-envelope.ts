import { randomUUID } from 'node:crypto';
import { topicMatches, type BroadcastBinding, type BroadcastRoute } from '@tq/core/adapter';
import { decodeEnvelope, encodeEnvelopeBytes } from './envelope.js';
import type { RedisKeys } from './keys.js';

/**
 * Broadcasts as kombu's Redis transport sends them (fanout_prefix + fanout_patterns, Celery's
 * defaults), so Celery's events and pidbox reach Python peers and theirs reach tq: a PUBLISH of
 * the ordinary kombu envelope on "/<db>.<exchange>" for fanout, "/<db>.<exchange>/<routing key>"
 * for topic exchanges (Celery turns its celeryev topic exchange into a fanout on Redis, with
 * the routing key in the channel name). Subscribers of a topic PSUBSCRIBE with kombu's glob:
 * the binding pattern with '#' as '*'.
 */
export function broadcastTopic(keys: RedisKeys, channel: string, route: BroadcastRoute | undefined): string {
  const base = keys.broadcastChannel(channel);
  const routingKey = route?.kind === 'topic' ? (route.routingKey ?? '') : '';
  return routingKey ? `${base}/${routingKey}` : base;
}

/**
 * The channel or glob a subscriber listens on, and how it reads what arrives. Redis's '*'
 * also matches dots, so a glob can be wider than its AMQP pattern ('task.*' would take
 * "task.a.b"): the routing key in the channel name is matched again here, as RabbitMQ would.
 */
export function broadcastSubscription(
  keys: RedisKeys,
  channel: string,
  binding: BroadcastBinding | undefined,
): { name: string; pattern: boolean; decode: (message: Buffer, channel: Buffer) => Uint8Array | null } {
  const base = keys.broadcastChannel(channel);
  if (binding?.kind !== 'topic') return { name: base, pattern: false, decode: decodeBroadcast };
  const pattern = binding.pattern ?? '#';
  const prefixLength = Buffer.byteLength(base) + 1;
  return {
    name: `${base}/${pattern.replace(/#/g, '*')}`,
    pattern: true,
    decode: (message, published) => (topicMatches(pattern, published.toString('utf8', prefixLength)) ? decodeBroadcast(message) : null),
  };
}

/**
 * The envelope PUBLISHed for one broadcast: transient, JSON, base64 body, as kombu's. As bytes:
 * handed to ioredis as a Buffer, a large envelope (a batch of events) is neither measured nor
 * encoded again as text.
 */
export function encodeBroadcast(channel: string, body: Uint8Array, route: BroadcastRoute | undefined): Buffer {
  return encodeEnvelopeBytes(
    { body, headers: route?.headers ?? {}, properties: { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 1 } },
    { exchange: channel, routingKey: route?.kind === 'topic' || route?.kind === 'direct' ? (route.routingKey ?? '') : '', deliveryTag: randomUUID(), wirePriority: 0 },
  );
}

/** The body of a PUBLISHed envelope; null for anything that is not one (dropped, never thrown). */
export function decodeBroadcast(message: Buffer): Uint8Array | null {
  try {
    return decodeEnvelope(message.toString('utf8')).message.body;
  } catch {
    return null;
  }
}
