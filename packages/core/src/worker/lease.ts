import type { Delivery } from '../broker/broker.js';
import type { BrokerCapabilities } from '../broker/capabilities.js';
import type { Logger } from '../logger.js';
import { InFlightSet } from '../broker/in-flight.js';

/**
 * Keeps unacked deliveries from being redelivered while the worker still owns them (running
 * tasks, held ETA tasks): every third of the broker's redelivery window, one timer calls
 * Delivery.extend() on each of them. A dead worker stops extending, so its tasks come back
 * after one window. One timer per worker, not per task: leasing costs nothing per task.
 */
export class LeaseKeeper {
  readonly #leased = new InFlightSet<Delivery>();
  readonly #periodMs: number | null;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;

  constructor(capabilities: BrokerCapabilities, logger: Logger) {
    const window = capabilities.redeliveryWindowMs;
    this.#periodMs = window === null ? null : Math.max(20, Math.floor(window / 3));
    this.#logger = logger;
  }

  /** Keeps `delivery` alive until the returned function is called. */
  keep(delivery: Delivery): () => void {
    if (this.#periodMs === null || !delivery.extend) return noop;
    this.#leased.add(delivery);
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#extendAll(), this.#periodMs);
      this.#timer.unref();
    }
    // The timer stays once started (unref'd, until stop()): re-arming it whenever the set empties
    // would cost a timer per task on a worker that finishes tasks faster than they arrive.
    return () => this.#leased.delete(delivery);
  }

  #extendAll(): void {
    for (const delivery of this.#leased) {
      delivery.extend!().catch((error: unknown) => this.#logger.warn(`could not extend a delivery's lease: ${(error as Error).message}`));
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#leased.clear();
  }
}

const noop = () => undefined;
