import type { Broker, DelayedMessage, MessageHeaders } from '../broker/broker.js';
import { TqError, UnsupportedError } from '../errors.js';

/** Listed when no limit is given: enough for a terminal, cheap for the broker. */
export const defaultScheduledLimit = 100;

/**
 * A countdown/ETA task that waits in the broker's delay store (not in a worker), as
 * `app.queues.scheduled()` and `tq queue scheduled` show it.
 */
export interface ScheduledMessage {
  /** The task id (Celery's `id` header), or null for a message without one. */
  readonly id: string | null;
  /** The task name (`task` header), or null. */
  readonly task: string | null;
  /** When it becomes deliverable, ISO 8601 (UTC). */
  readonly eta: string;
  /** Celery's printable arguments, when the sender set them. */
  readonly argsrepr: string | null;
  readonly kwargsrepr: string | null;
  /** Every header as published. */
  readonly headers: MessageHeaders;
}

/**
 * The delayed messages `broker` holds for `queue`, soonest first. Brokers whose delay store
 * cannot be read per queue without consuming it (RabbitMQ's shared TTL cascade, Kafka's shared
 * delay topics, NATS's naked redeliveries) do not declare capabilities.listDelayed: there this
 * throws UnsupportedError and `tq inspect scheduled` shows only what workers hold.
 */
export async function listScheduled(broker: Broker, queue: string, limit = defaultScheduledLimit): Promise<ScheduledMessage[]> {
  if (!broker.capabilities.listDelayed || !broker.listDelayed) {
    throw new UnsupportedError('this broker cannot list the countdown/ETA messages it holds (capabilities.listDelayed); `tq inspect scheduled` shows the ones workers hold');
  }
  if (!Number.isInteger(limit) || limit < 1) throw new TqError('TQ_CONFIG_INVALID', `scheduled: limit must be a positive integer, got ${String(limit)}`);
  return (await broker.listDelayed(queue, { limit })).map(scheduledMessage);
}

function scheduledMessage({ notBefore, headers }: DelayedMessage): ScheduledMessage {
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  return {
    id: text(headers['id']),
    task: text(headers['task']),
    eta: new Date(notBefore).toISOString(),
    argsrepr: text(headers['argsrepr']),
    kwargsrepr: text(headers['kwargsrepr']),
    headers,
  };
}
