import { isConnectionError, type BrokerMessage, type Delivery } from '@tq/core/adapter';
import type { DecodedEnvelope, Envelope } from './envelope.js';
import type { UnackedStore } from './unacked-store.js';
import { toTqError, translated, type ErrorContext } from './errors.js';

export type Settlement = 'ack' | 'requeue' | 'dead' | 'restore';

/** What the consumer is told about a delivery it handed out. */
export interface SettleHooks {
  /** A settle command is being sent: the delivery no longer counts against prefetch. */
  leavingWindow(delivery: RedisDelivery): void;
  /** Sends an ack: in a small window the consumer lets it ride on its next take (see RedisConsumer). */
  ack(tag: string): Promise<void>;
  /** Redis confirmed the settle. */
  settled(delivery: RedisDelivery): void;
  /** False once the broker is closing: a failed settle is then not tried again. */
  retrying(): boolean;
}

/** First wait before a failed settle is sent again; doubled per attempt up to the maximum. */
const settleRetryInitialMs = 100;
const settleRetryMaxMs = 2_000;
/** A retry is not started this close to the visibility deadline: the restorer may take the delivery then. */
const settleRetryMarginMs = 1_000;

/**
 * One popped message, recorded in the unacked hash until settled. The first settle wins;
 * later calls are no-ops. A settle that fails (connection lost) can be tried again.
 */
export class RedisDelivery implements Delivery {
  readonly message: BrokerMessage;
  readonly redelivered: boolean;
  /** This delivery's key in the unacked hash: fresh per delivery (see RedisConsumer). */
  readonly tag: string;
  /** The envelope as popped (its own delivery_tag is kombu's, possibly from an earlier delivery). */
  readonly #envelope: Envelope;
  readonly #queue: string;
  readonly #deadLetterQueue: string;
  readonly #store: UnackedStore;
  readonly #context: ErrorContext;
  readonly #hooks: SettleHooks;
  readonly #visibilityTimeoutMs: number;
  /** Since when the unacked record's score counts: the pop, then each successful extend(). */
  #leaseFrom = Date.now();
  #settling: Promise<void> | undefined;
  #settled = false;
  /** Made on first read of `lost`. */
  #lost: AbortController | undefined;

  constructor(
    decoded: DecodedEnvelope,
    tag: string,
    queue: string,
    deadLetterQueue: string,
    store: UnackedStore,
    context: ErrorContext,
    hooks: SettleHooks,
    visibilityTimeoutMs: number,
  ) {
    this.message = decoded.message;
    this.redelivered = decoded.redelivered;
    this.tag = tag;
    this.#envelope = decoded.envelope;
    this.#queue = queue;
    this.#deadLetterQueue = deadLetterQueue;
    this.#store = store;
    this.#context = context;
    this.#hooks = hooks;
    this.#visibilityTimeoutMs = visibilityTimeoutMs;
  }

  get settled(): boolean {
    return this.#settled;
  }

  ack(): Promise<void> {
    return this.settle('ack');
  }

  reject(requeue: boolean): Promise<void> {
    return this.settle(requeue ? 'requeue' : 'dead');
  }

  /** Aborts when an extend finds the unacked record gone: a restore gave the message to the queue again. */
  get lost(): AbortSignal {
    this.#lost ??= new AbortController();
    return this.#lost.signal;
  }

  /** Moves the visibility deadline forward; core calls it while the task runs or is held. */
  async extend(): Promise<void> {
    if (this.#settled || this.#settling) return;
    const sent = Date.now();
    const kept = await translated(this.#context, () => this.#store.extend(this.tag));
    if (kept) this.#leaseFrom = sent;
    else if (!this.#settled && !this.#settling) this.#lost?.abort();
  }

  /** 'restore' is the adapter's own: a closing connection hands the message back to the front of its queue. */
  settle(outcome: Settlement): Promise<void> {
    if (this.#settled) return Promise.resolve();
    if (this.#settling) return this.#settling;
    // The consumer's window frees as the command goes out, as an AMQP ack (which has no reply)
    // would: waiting for Redis's reply would hold a prefetch slot for a round trip per task. If
    // the command fails, the delivery stays in the unacked hash and is restored after the
    // visibility timeout: at-least-once either way.
    // The settle first: an ack waits for the consumer's next take, which freeing the window may start.
    const sent = this.#send(outcome);
    this.#hooks.leavingWindow(this);
    // Plain promise chain rather than async wrappers: an ack runs once per task.
    const attempt = sent.then(
      () => this.#done(),
      (error: unknown) => this.#retry(outcome, toTqError(error, this.#context), 0),
    );
    this.#settling = attempt;
    return attempt;
  }

  #done(): void {
    this.#settled = true;
    this.#settling = undefined;
    this.#hooks.settled(this);
  }

  /**
   * A settle that failed on the connection (a blip, a reconnect in progress) is sent again with
   * backoff while the delivery is still ours: until shortly before its visibility deadline,
   * after which the restorer may hand the message to another consumer. Without this, every task
   * in flight during a blip ran again after the visibility timeout. Every settle is idempotent
   * (its script does nothing once the tag left the unacked hash), so a first attempt that did
   * reach Redis does no harm. Gives up with the last error; the broker closing stops it too.
   */
  async #retry(outcome: Settlement, error: unknown, attempt: number): Promise<void> {
    let last = error;
    for (let n = attempt; ; n++) {
      const delay = Math.min(settleRetryMaxMs, settleRetryInitialMs * 2 ** n);
      const deadline = this.#leaseFrom + this.#visibilityTimeoutMs - settleRetryMarginMs;
      if (!isConnectionError(last) || !this.#hooks.retrying() || Date.now() + delay >= deadline) {
        this.#settling = undefined;
        throw last;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (!this.#hooks.retrying()) continue;
      try {
        await this.#send(outcome);
        this.#done();
        return;
      } catch (retryError) {
        last = toTqError(retryError, this.#context);
      }
    }
  }

  #send(outcome: Settlement): Promise<unknown> {
    try {
      if (outcome === 'ack') return this.#hooks.ack(this.tag);
      if (outcome === 'dead') return this.#store.deadLetter(this.tag, this.#envelope, this.#deadLetterQueue);
      return this.#store.requeue(this.tag, this.#envelope, this.#queue, outcome === 'restore' ? 'front' : 'back');
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
