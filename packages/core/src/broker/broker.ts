import type { BrokerCapabilities } from './capabilities.js';

/** AMQP-style message properties, in the names Celery uses on the wire (camelCased). */
export interface MessageProperties {
  /** MIME type of `body`, e.g. 'application/json'. Required: the worker's accept list checks it. */
  readonly contentType: string;
  /** 'utf-8' for text serializers, 'binary' otherwise. */
  readonly contentEncoding: string;
  readonly correlationId?: string;
  readonly replyTo?: string;
  /** 0..255 on the wire; Celery uses 0..9, higher is more urgent. */
  readonly priority?: number;
  /** 2 = persistent (default), 1 = transient. */
  readonly deliveryMode?: 1 | 2;
}

/** Header values are JSON-compatible: adapters must carry them without loss. */
export type HeaderValue = string | number | boolean | null | readonly HeaderValue[] | { readonly [key: string]: HeaderValue };
export type MessageHeaders = Readonly<Record<string, HeaderValue>>;

/** The bytes an adapter moves: body already serialized by core, headers, properties. */
export interface BrokerMessage {
  readonly body: Uint8Array;
  /** Celery protocol v2 headers (task, id, retries, …); unknown keys pass through untouched. */
  readonly headers: MessageHeaders;
  readonly properties: MessageProperties;
  /** Epoch ms before which the message must not be delivered. Only set when capabilities.delayedDelivery. */
  readonly notBefore?: number;
  /**
   * Publish at most once per this id within capabilities.publishDeduplicationMs: a second publish
   * with the same id is accepted (resolves) but enqueues nothing. Only set when that capability
   * is not null; adapters without it never see it.
   */
  readonly deduplicationId?: string;
}

/** One message handed to a consumer. Exactly one of ack/reject settles it; later calls are no-ops. */
export interface Delivery {
  readonly message: BrokerMessage;
  /** The broker says this message was delivered before (to this or another consumer). */
  readonly redelivered: boolean;
  /** Remove the message from the queue for good. */
  ack(): Promise<void>;
  /**
   * Give the message back. requeue=true: it will be delivered again (to any consumer).
   * requeue=false: it is dead-lettered where capabilities.deadLetter, else dropped.
   */
  reject(requeue: boolean): Promise<void>;
  /**
   * Keep an unacked delivery alive while a long task runs (visibility extension, in-progress ack).
   * Present when capabilities.redeliveryWindowMs is not null; core calls it periodically.
   */
  extend?(): Promise<void>;
  /**
   * Aborts when the broker has taken this delivery back while it is unsettled (its connection
   * or channel died, its lease went to another consumer): the broker will deliver it again, so
   * the holder must not run it. Core drops a held countdown/ETA copy the moment it aborts.
   * Optional: without it a lost held copy can run beside its redelivery.
   */
  readonly lost?: AbortSignal;
}

export interface ConsumeOptions {
  /** Most unacked deliveries this consumer may hold at once (>= 1). */
  readonly prefetch: number;
  /** Aborting ends the iteration; unacked deliveries stay owned by the caller until settled. */
  readonly signal: AbortSignal;
}

/**
 * What `consume` returns: the deliveries, and optionally a way to widen the prefetch window
 * while the consumer lives. Core widens it by one for each countdown/ETA task it holds, so
 * held tasks never starve the executors (Celery raises basic.qos the same way).
 */
export interface Consumer extends AsyncIterable<Delivery> {
  setPrefetch?(prefetch: number): void;
}

/**
 * The broker contract: 5 required members. An adapter moves bytes and acknowledgements;
 * serialization, routing, retries, ETA, time limits and events live in core.
 * See docs/writing-an-adapter.md.
 */
export interface Broker {
  readonly capabilities: BrokerCapabilities;
  /** Open connections. Called once by core's runtime guard before first use. */
  connect(options?: { signal?: AbortSignal }): Promise<void>;
  /** Resolves once the broker has accepted (persisted/confirmed) the message; rejects otherwise. */
  publish(queue: string, message: BrokerMessage): Promise<void>;
  /**
   * A back-pressured stream of deliveries: the adapter must not hold more than `prefetch`
   * unacked deliveries for this consumer. Ends when `signal` aborts or the broker is closed.
   */
  consume(queue: string, options: ConsumeOptions): Consumer;
  /** Close connections; unacked deliveries return to their queues. Idempotent. */
  close(): Promise<void>;
  /**
   * Delete every ready message in `queue`, and its delayed ones where capabilities.purgeDelayed;
   * resolves to how many were removed. When capabilities.purge.
   */
  purge?(queue: string): Promise<number>;
  /**
   * The delayed (countdown/ETA) messages the broker holds for `queue`, soonest first, at most
   * `limit` of them, read without consuming or moving them. When capabilities.listDelayed.
   */
  listDelayed?(queue: string, options: ListDelayedOptions): Promise<DelayedMessage[]>;
  /** How many messages `queue` holds, as the broker counts them. When capabilities.queueStats. */
  queueStats?(queue: string): Promise<QueueStats>;
  /**
   * Publish `body` to every current subscriber of `channel` (no persistence) whose binding
   * matches `route.routingKey`. When capabilities.broadcast.
   */
  broadcast?(channel: string, body: Uint8Array, route?: BroadcastRoute): Promise<void>;
  /** Receive broadcasts on `channel` that match `binding` until `signal` aborts. When capabilities.broadcast. */
  subscribe?(channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array>;
}

export interface ListDelayedOptions {
  /** Most messages to return (>= 1). */
  readonly limit: number;
}

/** A message the broker holds for a later delivery time, as `listDelayed` reads it. */
export interface DelayedMessage {
  /** Epoch ms from which it may be delivered (the `notBefore` it was published with). */
  readonly notBefore: number;
  /** Its headers as published (Celery's `id`, `task`, `eta`, `argsrepr`, …). */
  readonly headers: MessageHeaders;
}

/**
 * A queue's counts as its broker keeps them, for `tq queues`, autoscalers (KEDA) and dashboards.
 * A count the broker cannot give cheaply is null, never a guess.
 */
export interface QueueStats {
  /** Waiting to be delivered (every priority level). */
  readonly ready: number;
  /** Delivered to a consumer and not yet acked. */
  readonly unacked: number | null;
  /** In the queue's dead-letter store. */
  readonly dead: number | null;
  /** Consumers attached now. */
  readonly consumers: number | null;
  /** Held by the broker for a later delivery time (countdown/ETA); absent or null when it cannot tell. */
  readonly delayed?: number | null;
  /** Age in ms of the oldest message waiting to be delivered; null when empty or unknown. */
  readonly oldestAgeMs?: number | null;
}

/**
 * A broadcast channel is a kombu exchange, of one kind that everyone who uses the channel names
 * (an AMQP server refuses a second declaration of another kind):
 * - 'fanout' (the default): every subscriber gets every message (Celery's `celery.pidbox`);
 * - 'topic': a message carries a routing key ("task.succeeded") and reaches the subscribers
 *   whose pattern matches it (Celery's durable `celeryev`);
 * - 'direct': a message reaches the subscribers bound with exactly its routing key, through a
 *   queue each subscriber names, so one read late still gets it (Celery's
 *   `reply.celery.pidbox`, where remote-control replies go).
 */
export type BroadcastKind = 'fanout' | 'topic' | 'direct';

export interface BroadcastRoute {
  /** Default 'fanout'. */
  readonly kind?: BroadcastKind;
  /** The message's routing key on a topic or direct channel, dot-separated words. Default ''. */
  readonly routingKey?: string;
  /** Headers carried beside the body where the broker has them (AMQP properties, kombu's Redis envelope). */
  readonly headers?: MessageHeaders;
}

export interface BroadcastBinding {
  /** Default 'fanout'. */
  readonly kind?: BroadcastKind;
  /**
   * On a topic channel, the AMQP binding pattern: words separated by '.', '*' matches one word,
   * '#' any number of words. Default '#' (everything). On a direct channel, the routing key.
   */
  readonly pattern?: string;
  /**
   * On a direct channel, the queue the subscriber reads, named so peers can find it. Default
   * "<routing key>.<channel>", kombu's name for a pidbox reply queue.
   */
  readonly queue?: string;
}
