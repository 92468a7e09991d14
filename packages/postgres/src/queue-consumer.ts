import { DeliveryBuffer, type Logger, InFlightSet } from '@tq/core/adapter';
import type { PostgresDelivery } from './postgres-delivery.js';

export interface QueueConsumerContext {
  /** Claims up to `limit` visible rows of the queue, leased to this broker, highest priority first. */
  claim(queue: string, limit: number): Promise<PostgresDelivery[]>;
  /** Ms until the queue's next row becomes visible (delayed or leased), or null when it is empty. */
  nextVisibleInMs(queue: string): Promise<number | null>;
  /** Returns rows this consumer claimed but nobody read: visible at once, not counted as delivered. */
  handBack(deliveries: readonly PostgresDelivery[]): Promise<void>;
  readonly pollIntervalMs: number;
  readonly logger?: Logger;
  /** Stopped: the broker forgets this consumer. */
  onStop(consumer: QueueConsumer): void;
}

const maxBackoffMs = 2_000;
/** A row can be visible and still not claimable for a moment (another claim holds its row lock). */
const minSleepMs = 5;

/**
 * One `consume(queue)` call. Claims in batches up to the free prefetch room; when the queue has
 * nothing visible it sleeps until a NOTIFY for its queue, the time the next row becomes visible
 * (a not-before time or a lease end), or pollIntervalMs, whichever comes first — no hot loop.
 */
export class QueueConsumer {
  readonly queue: string;
  readonly buffer: DeliveryBuffer<PostgresDelivery>;
  readonly #context: QueueConsumerContext;
  readonly #unacked = new InFlightSet<PostgresDelivery>();
  #prefetch: number;
  #stopped = false;
  /** A NOTIFY (or a reconnect) came since the last claim started: claim again before sleeping. */
  #notified = true;
  #wake: (() => void) | undefined;
  #waitingForRoom = false;
  #handedBack: Promise<void> = Promise.resolve();

  constructor(queue: string, prefetch: number, signal: AbortSignal, context: QueueConsumerContext) {
    this.queue = queue;
    this.#prefetch = Math.max(1, Math.floor(prefetch));
    this.#context = context;
    this.buffer = new DeliveryBuffer<PostgresDelivery>({ signal, onClose: () => void this.stop() });
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    void this.#run();
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  setPrefetch(prefetch: number): void {
    this.#prefetch = Math.max(1, Math.floor(prefetch));
    this.#wakeUp();
  }

  /** Something may be claimable (NOTIFY for this queue, LISTEN reconnected). */
  notify(): void {
    this.#notified = true;
    this.#wakeUp();
  }

  /** A delivery was settled: its slot is free. */
  released(delivery: PostgresDelivery): void {
    if (!this.#unacked.delete(delivery)) return;
    if (this.#waitingForRoom) this.#wakeUp();
  }

  /** Deliveries handed out and not settled (the broker gives them back on close). */
  get unacked(): readonly PostgresDelivery[] {
    return [...this.#unacked];
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        const room = this.#prefetch - this.#unacked.size;
        if (room <= 0) {
          this.#waitingForRoom = true;
          await this.#sleep(undefined);
          this.#waitingForRoom = false;
          continue;
        }
        this.#notified = false;
        const claimed = await this.#context.claim(this.queue, room);
        if (this.#stopped) {
          await this.#context.handBack(claimed);
          break;
        }
        for (const delivery of claimed) {
          this.#unacked.add(delivery);
          if (!this.buffer.push(delivery)) {
            this.#unacked.delete(delivery);
            await this.#context.handBack([delivery]);
          }
        }
        failures = 0;
        if (claimed.length === room || this.#notified) continue;
        const next = await this.#context.nextVisibleInMs(this.queue);
        if (this.#notified || this.#stopped) continue;
        const { pollIntervalMs } = this.#context;
        await this.#sleep(next === null ? pollIntervalMs : Math.min(pollIntervalMs, Math.max(minSleepMs, next)));
      } catch (error) {
        if (this.#stopped) break;
        // The pool drops the failed connection; the next claim opens a new one.
        failures++;
        if (failures === 3) this.#context.logger?.warn(`postgres: consuming from "${this.queue}" keeps failing: ${(error as Error).message}`);
        await this.#sleep(Math.min(maxBackoffMs, 100 * 2 ** failures));
        this.#notified = true;
      }
    }
  }

  /** Stops claiming and gives back what was claimed but never read; read deliveries stay the caller's. */
  stop(): Promise<void> {
    if (this.#stopped) return this.#handedBack;
    this.#stopped = true;
    this.buffer.end();
    this.#wakeUp();
    const unread = this.buffer.drainUnread().filter((d) => d.markReturned());
    for (const delivery of unread) this.#unacked.delete(delivery);
    if (unread.length) this.#handedBack = this.#context.handBack(unread).catch(() => undefined);
    this.#context.onStop(this);
    return this.#handedBack;
  }

  #sleep(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(() => this.#wakeUp(), ms);
    });
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
