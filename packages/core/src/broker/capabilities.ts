/**
 * What a broker adapter can do, declared once by the adapter. Core, the conformance kit and
 * docs/choosing-a-broker.md all read this same object; a claimed capability must pass the kit.
 */
export interface BrokerCapabilities {
  /**
   * The broker can hold a message until `BrokerMessage.notBefore` (countdown/ETA) itself.
   * Default false: core holds ETA tasks in the worker and re-schedules long ones.
   */
  readonly delayedDelivery: boolean;
  /**
   * Highest priority the broker honours (Celery's 0..9 scale, higher first); 0 = no priority.
   * Default 0.
   */
  readonly maxPriority: number;
  /** `broadcast`/`subscribe` are implemented (control commands, revoke). Default false. */
  readonly broadcast: boolean;
  /** Unacked deliveries return to the queue when the consumer's connection dies. Default true. */
  readonly redeliversUnacked: boolean;
  /**
   * A message that comes back after its consumer's connection died is flagged
   * `Delivery.redelivered` every time. Default true. false = best effort (Kafka: the "handed
   * out" mark travels in the offset commit, every commitIntervalMs, so a consumer killed before
   * that commit leaves its messages unflagged).
   */
  readonly flagsRedeliveryAfterCut: boolean;
  /**
   * An unacked delivery is redelivered after this many ms even while its consumer lives
   * (Redis visibility timeout, JetStream AckWait), unless `Delivery.extend()` is called.
   * null = never while the connection lives (AMQP). Default null.
   */
  readonly redeliveryWindowMs: number | null;
  /** `reject(false)` moves the message to a dead-letter destination instead of dropping it. Default false. */
  readonly deadLetter: boolean;
  /** Messages on one queue are delivered in publish order (single consumer, no priorities). Default true. */
  readonly fifo: boolean;
  /** Largest message body the broker accepts, in bytes; null = no fixed limit. Default null. */
  readonly maxMessageBytes: number | null;
  /** `purge(queue)` is implemented. Default false. */
  readonly purge: boolean;
  /**
   * `purge(queue)` also removes the queue's delayed (countdown/ETA) messages that the broker
   * holds, and counts them. Default false: a purge leaves them, and they arrive when due.
   */
  readonly purgeDelayed: boolean;
  /**
   * `listDelayed(queue)` is implemented: the delayed messages the broker holds for a queue can
   * be read without consuming them (`tq queue scheduled`). Default false.
   */
  readonly listDelayed: boolean;
  /** `queueStats(queue)` is implemented: ready counts at least. Default false. */
  readonly queueStats: boolean;
  /**
   * reject(true) gives the message itself back to its queue (not a copy appended at the end), so
   * core can read a queue and give back what it only looked at (app.deadLetters). Default true.
   */
  readonly requeueInPlace: boolean;
  /**
   * `publishInTransaction(transaction, queue, message)` is implemented: the message is written
   * through the caller's own database transaction and exists if and only if it commits
   * (sendTask's `{ transaction }`, see producer/transactional.ts). Default false.
   */
  readonly transactionalPublish: boolean;
  /**
   * How long the broker remembers a `BrokerMessage.deduplicationId`, in ms: a publish whose id
   * was published within that window is accepted and dropped, atomically with the enqueue (so a
   * producer that dies after publishing can publish again without a double). null = the field is
   * ignored. Default null. Beat sends its ticks this way (exactly once across leader changes).
   */
  readonly publishDeduplicationMs: number | null;
}

export const defaultBrokerCapabilities: BrokerCapabilities = Object.freeze({
  delayedDelivery: false,
  maxPriority: 0,
  broadcast: false,
  redeliversUnacked: true,
  flagsRedeliveryAfterCut: true,
  redeliveryWindowMs: null,
  deadLetter: false,
  fifo: true,
  maxMessageBytes: null,
  purge: false,
  purgeDelayed: false,
  listDelayed: false,
  queueStats: false,
  requeueInPlace: true,
  transactionalPublish: false,
  publishDeduplicationMs: null,
});

/** Fills unspecified flags with their defaults. */
export function brokerCapabilities(partial: Partial<BrokerCapabilities>): BrokerCapabilities {
  return Object.freeze({ ...defaultBrokerCapabilities, ...partial });
}
