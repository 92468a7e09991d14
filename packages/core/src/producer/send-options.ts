import type { MessageHeaders } from '../broker/broker.js';
import type { EmbeddedOptions } from '../protocol/message.js';

/** Per-call options of sendTask / applyAsync. */
export interface SendOptions {
  /** Queue to publish to. Default: the task's queue, then routes, then defaultQueue. */
  readonly queue?: string;
  /** Run no earlier than this many seconds from now. */
  readonly countdown?: number;
  /** Run no earlier than this time. */
  readonly eta?: Date | string;
  /** Revoke (never run) if not started by then: a Date, an ISO string, or seconds from now. */
  readonly expires?: Date | string | number;
  /** 0..9, higher runs first where the broker supports priority. */
  readonly priority?: number;
  /** Hard time limit, seconds. */
  readonly timeLimit?: number;
  /** Soft time limit, seconds. */
  readonly softTimeLimit?: number;
  /**
   * Use this id instead of a random UUID. Idempotent where the result backend can claim keys
   * (capabilities.claim: memory, redis, nats): a second send with the same id within the result TTL
   * publishes nothing and returns the first send's AsyncResult.
   */
  readonly taskId?: string;
  /**
   * Deduplicate by `key` for `ttl` seconds: a send while an earlier one with the same key holds
   * the window publishes nothing and returns the earlier task's AsyncResult. Atomic across
   * producers; needs a result backend with capabilities.claim (else UnsupportedError).
   */
  readonly dedupe?: { readonly key: string; readonly ttl: number };
  /**
   * Let the broker itself drop a repeat of this send within its window
   * (capabilities.publishDeduplicationMs: redis, nats, postgres, memory): the task id travels as the
   * message's deduplication id, checked in the same step as the enqueue. Unlike `taskId`'s claim
   * in the result backend, which a producer killed between claim and publish leaves held with
   * nothing sent, a send that may or may not have happened can always be repeated safely. Needs
   * `taskId`; replaces the backend claim; UnsupportedError on a broker without the capability.
   * Beat sends its ticks this way.
   */
  readonly brokerDeduplication?: boolean;
  /**
   * Let tq workers run this task id once, however many times it is sent: each send carries a
   * nonce of its own, and the worker claims the id in its result backend (capabilities.claim)
   * with the message's nonce before running; a copy from another send is acked and dropped, a
   * redelivery of the same message still runs. For brokers that cannot drop repeats
   * themselves (amqp://, kafka://): repeating a send that may or may not have gone out is safe.
   * Needs `taskId`; replaces the backend claim at send. Python Celery workers run every copy.
   */
  readonly runOnce?: boolean;
  readonly ignoreResult?: boolean;
  /** Extra message headers, passed through to the worker untouched. */
  readonly headers?: MessageHeaders;
  /** Retry count carried in the message (set by retries, not by users). */
  readonly retries?: number;
  readonly parentId?: string | null;
  readonly rootId?: string | null;
  readonly group?: string | null;
  readonly groupIndex?: number | null;
  /** Callbacks, errbacks, chain and chord (canvas). */
  readonly embed?: EmbeddedOptions;
  readonly shadow?: string;
  /** reply_to of the message (rpc:// results); default: the result backend's reply address. Set by canvas steps that carry one. */
  readonly replyTo?: string;
  /**
   * The caller's database transaction (e.g. a node-postgres client after BEGIN): the task is
   * written in it, so it exists if and only if the transaction commits. Needs a broker that
   * writes in transactions (postgres://) or an outbox (TqConfig.outbox). Not retried.
   */
  readonly transaction?: unknown;
}
