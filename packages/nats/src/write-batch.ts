import type { NatsConnection } from '@nats-io/transport-node';
import { BrokerConnectionError, withDeadline } from '@tq/core/adapter';

interface Pending {
  readonly write: () => unknown;
  readonly confirm: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Groups the protocol writes of one moment (publishes, acks, naks) into one socket write.
 *
 * nats.js writes its outbound buffer on the microtask after the first command; tq's extra
 * async hops between one publish resolving and the next starting push every command past that
 * microtask, so without grouping each message costs its own write syscall (over a third of
 * the CPU per message in the benchmark). Writes queued here run together on the next
 * setImmediate.
 *
 * `confirmed` writes (acks) resolve once the server has received them: one PING/PONG round
 * trip shared by the whole group. A JetStream double ack (ackAck) would instead wait for the
 * consumer to process each ack, milliseconds per message while the server is busy with
 * publishes; a lost ack can only cause a redelivery, which at-least-once allows.
 */
export class WriteBatch {
  readonly #nc: NatsConnection;
  readonly #confirmTimeoutMs: number;
  #pending: Pending[] = [];
  #scheduled = false;

  /**
   * `confirmTimeoutMs`: a confirmed write whose PONG has not come by then rejects with
   * BrokerConnectionError. While the connection is silent or reconnecting, nats.js holds the
   * PING until it is back, however long that takes; an ack or a nak on close must not.
   */
  constructor(nc: NatsConnection, confirmTimeoutMs: number) {
    this.#nc = nc;
    this.#confirmTimeoutMs = confirmTimeoutMs;
  }

  /** nc.flush() bounded by the confirm timeout. */
  flush(): Promise<void> {
    return withDeadline(this.#nc.flush(), this.#confirmTimeoutMs, () => new BrokerConnectionError(`NATS server did not answer a PING within ${this.#confirmTimeoutMs} ms`));
  }

  /** Runs `write` with the other writes of this moment; resolves to what it returns. */
  run<T>(write: () => T | Promise<T>): Promise<T> {
    return this.#queue(write, false) as Promise<T>;
  }

  /** Runs `write` (an ack, a nak) with the others, resolving once the server has received it. */
  confirmed(write: () => void): Promise<void> {
    return this.#queue(write, true) as Promise<void>;
  }

  #queue(write: () => unknown, confirm: boolean): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ write, confirm, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#drain());
      }
    });
  }

  #drain(): void {
    const batch = this.#pending;
    this.#pending = [];
    this.#scheduled = false;
    const toConfirm: Pending[] = [];
    for (const item of batch) {
      try {
        const result = item.write();
        if (item.confirm) toConfirm.push(item);
        else item.resolve(result);
      } catch (error) {
        item.reject(error);
      }
    }
    if (toConfirm.length === 0) return;
    // The PING goes out behind every write above, so its PONG covers them all.
    this.flush().then(
      () => toConfirm.forEach((item) => item.resolve(undefined)),
      (error: unknown) => toConfirm.forEach((item) => item.reject(error)),
    );
  }
}
