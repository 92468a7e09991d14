import type { BrokerMessage, Delivery, QueueStats } from '../broker/broker.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';

/** The consumerStallMs worker option, defaulted (60 s) and checked; 0 turns the watchdog off. */
export function consumerStallOf(value: number | undefined): number {
  if (value === undefined) return 60_000;
  if (!Number.isFinite(value) || value < 0) throw new ConfigError([{ path: 'consumerStallMs', message: `expected a number of ms >= 0 (0 turns the watchdog off), got ${value}` }]);
  return value;
}

export interface ConsumeWatchdogOptions {
  /**
   * A queue's consumer that waits this long for its next delivery, while the broker counts ready
   * messages in the queue the whole time and that count does not fall, is restarted.
   */
  readonly stallMs: number;
  /** The queue's counts as the broker keeps them (Broker.queueStats). */
  readonly stats: (queue: string) => Promise<QueueStats>;
  readonly logger: Logger;
  /** Called after each restart, for the worker's event. */
  readonly onRestart?: (stall: ConsumerStall) => void;
  /** How often waiting consumers are looked at. Default stallMs / 4, between 250 ms and 15 s. */
  readonly checkMs?: number;
}

/** What the watchdog saw when it restarted a consumer. */
export interface ConsumerStall {
  readonly queue: string;
  /** How long the consumer had waited for a delivery. */
  readonly waitedMs: number;
  /** Ready messages in the queue at the last look. */
  readonly ready: number;
}

/** A restart that did not bring a delivery doubles the bound, up to this many times stallMs. */
const maxBackoff = 16;

/**
 * Celery's "alive but not consuming" failure: a consumer whose stream neither yields nor fails
 * (a wedged client, a lost subscription the broker never reports) while its queue fills up.
 * The worker's consume loop awaits each delivery through a ConsumerWatch; the watchdog looks
 * at the consumers that are waiting and asks the broker for their queue's counts. A consumer is
 * restarted (its consume stream aborted and opened again, with a warning) only when, for
 * `stallMs`: it waited for a delivery without getting one; the worker held no delivery of that
 * queue unsettled (a full prefetch window, tasks running or held for their ETA, make a broker
 * wait by design); every look found ready messages (an idle queue is never restarted); and
 * their count did not fall (others draining the queue mean the queue is moving). A consumer
 * waiting for a free executor is not waiting for a delivery and is not watched. Where the broker cannot count (no queueStats), or a count
 * fails, nothing is restarted. A restart that brings no delivery doubles the bound for the
 * next one, so a consumer that legitimately gets nothing (a Kafka group member with no
 * partition) is restarted ever more rarely.
 */
export class ConsumeWatchdog {
  readonly #options: ConsumeWatchdogOptions | null;
  readonly #watches = new Set<ConsumerWatch>();
  readonly #checkMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #checking = false;

  /** null: a watchdog that watches nothing (disabled, or a broker that cannot count). */
  constructor(options: ConsumeWatchdogOptions | null) {
    this.#options = options;
    this.#checkMs = options ? (options.checkMs ?? Math.min(15_000, Math.max(250, options.stallMs / 4))) : 0;
  }

  /** A watch for one queue's consume loop; close it when the loop ends. */
  watch(queue: string): ConsumerWatch {
    const watch = new ConsumerWatch(queue, this.#options?.stallMs ?? 0, this.#options !== null, (w) => this.#watches.delete(w));
    if (!this.#options) return watch;
    this.#watches.add(watch);
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.#check(), this.#checkMs);
      this.#timer.unref();
    }
    return watch;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#watches.clear();
  }

  async #check(): Promise<void> {
    const options = this.#options;
    if (!options || this.#checking) return;
    this.#checking = true;
    try {
      await Promise.all([...this.#watches].map((watch) => this.#look(watch, options)));
    } finally {
      this.#checking = false;
    }
  }

  async #look(watch: ConsumerWatch, options: ConsumeWatchdogOptions): Promise<void> {
    const since = watch.waitingSince;
    if (since === null || watch.unsettled > 0) return void (watch.window = null);
    let ready: number;
    try {
      ready = (await options.stats(watch.queue)).ready;
    } catch {
      // Cannot tell idle from stalled: start over.
      watch.window = null;
      return;
    }
    // A delivery arrived while counting, or the wait is another one now.
    if (watch.waitingSince !== since || watch.unsettled > 0) return;
    const now = Date.now();
    if (ready === 0) {
      watch.window = null;
      return;
    }
    if (!watch.window || ready < watch.window.ready) {
      watch.window = { since: now, ready };
      return;
    }
    watch.window = { since: watch.window.since, ready: Math.min(watch.window.ready, ready) };
    if (now - watch.window.since < watch.boundMs) return;
    const stall: ConsumerStall = { queue: watch.queue, waitedMs: now - since, ready };
    options.logger.warn(
      `the consumer of queue ${stall.queue} is stalled: no delivery for ${Math.round(stall.waitedMs / 1000)} s while the broker counts ${ready} ready message(s), not falling; restarting it`,
    );
    watch.restart();
    options.onRestart?.(stall);
  }
}

/** One queue consume loop under watch: it takes each delivery through `next`. */
export class ConsumerWatch {
  readonly queue: string;
  /** When the loop began waiting for the delivery it still waits for; null when not waiting. */
  waitingSince: number | null = null;
  /** Since when the queue has had ready messages that did not fall, and the lowest count seen. */
  window: { since: number; ready: number } | null = null;
  /** The stall bound now (doubled by each restart without a delivery in between). */
  boundMs: number;
  /** Deliveries of this queue handed to the worker and not yet acked or rejected. */
  unsettled = 0;
  readonly #stallMs: number;
  readonly #counting: boolean;
  readonly #onClose: (watch: ConsumerWatch) => void;
  #attempt = new AbortController();
  #restarted = false;
  /** The stream signal next() listens to, and how its abort ends the wait under way. */
  #listened: AbortSignal | undefined;
  #endWait: (() => void) | undefined;

  constructor(queue: string, stallMs: number, counting: boolean, onClose: (watch: ConsumerWatch) => void) {
    this.queue = queue;
    this.#stallMs = stallMs;
    this.boundMs = stallMs;
    this.#counting = counting;
    this.#onClose = onClose;
  }

  /** A signal for the next consume stream: aborted when the watchdog restarts it. */
  attempt(): AbortSignal {
    this.#attempt = new AbortController();
    this.#restarted = false;
    return this.#attempt.signal;
  }

  /** True when the watchdog ended the current stream (the loop consumes again at once). */
  get restarted(): boolean {
    return this.#restarted;
  }

  /**
   * The next delivery of the stream, or done when `stream` aborts (the signal attempt() went
   * into, combined with the worker's stop: made once per stream, not per delivery):
   * the race does not rely on a stalled stream noticing its abort. A delivery that arrives
   * after that goes to `giveBack`. While watched, a delivery is counted unsettled until its ack
   * or reject.
   */
  async next(iterator: AsyncIterator<Delivery>, signal: AbortSignal, giveBack: (late: Delivery) => void): Promise<IteratorResult<Delivery>> {
    if (signal.aborted) return { done: true, value: undefined };
    this.waitingSince = Date.now();
    this.#listenTo(signal);
    const restarted = new Promise<IteratorResult<Delivery>>((resolve) => (this.#endWait = () => resolve({ done: true, value: undefined })));
    const pending = iterator.next();
    try {
      const next = await Promise.race([pending, restarted]);
      if (next.done && signal.aborted) {
        void pending.then((late) => (late.done ? undefined : giveBack(late.value))).catch(() => undefined);
      }
      if (next.done) return next;
      this.window = null;
      this.boundMs = this.#stallMs;
      return this.#counting ? { done: false, value: this.#counted(next.value) } : next;
    } finally {
      this.waitingSince = null;
      this.#endWait = undefined;
    }
  }

  /**
   * One abort listener per stream, not one per delivery: adding and removing a listener per
   * task churns the signal's listener map (see broker/in-flight.ts for why churn costs memory).
   */
  #listenTo(signal: AbortSignal): void {
    if (this.#listened === signal) return;
    this.#listened = signal;
    signal.addEventListener('abort', () => this.#endWait?.(), { once: true });
  }

  #counted(delivery: Delivery): Delivery {
    this.unsettled++;
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      this.unsettled--;
    };
    return new CountedDelivery(delivery, settle);
  }

  restart(): void {
    this.#restarted = true;
    this.window = null;
    this.boundMs = Math.min(this.boundMs * 2, this.#stallMs * maxBackoff);
    this.#attempt.abort();
  }

  close(): void {
    this.waitingSince = null;
    this.#onClose(this);
  }
}

/** A delivery that reports its first ack or reject (ConsumerWatch.unsettled). */
class CountedDelivery implements Delivery {
  readonly #inner: Delivery;
  readonly #settle: () => void;
  readonly extend?: () => Promise<void>;

  constructor(inner: Delivery, settle: () => void) {
    this.#inner = inner;
    this.#settle = settle;
    if (inner.extend) this.extend = () => inner.extend!();
  }

  get message(): BrokerMessage {
    return this.#inner.message;
  }

  get redelivered(): boolean {
    return this.#inner.redelivered;
  }

  get lost(): AbortSignal | undefined {
    return this.#inner.lost;
  }

  ack(): Promise<void> {
    this.#settle();
    return this.#inner.ack();
  }

  reject(requeue: boolean): Promise<void> {
    this.#settle();
    return this.#inner.reject(requeue);
  }
}
