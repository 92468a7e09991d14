import type { NatsConnection } from '@nats-io/transport-node';

/**
 * Resolves once the server has received everything written on the connection so far, sharing
 * one PING/PONG round trip between all callers of the same moment. Used for acks: a
 * JetStream double ack (ackAck) waits for the consumer to process each ack and, while the
 * server is busy with publishes, costs milliseconds per message; a flushed ack costs one
 * shared round trip, and the worst a lost one can cause is a redelivery (at-least-once).
 */
export class FlushBatcher {
  readonly #nc: NatsConnection;
  #next: Promise<void> | undefined;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  /** Call after writing (ack, nak): resolves when a PING sent after that write is answered. */
  flush(): Promise<void> {
    // Everything written before the scheduled PING goes out ahead of it, so it is covered.
    this.#next ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.#next = undefined;
      return this.#nc.flush();
    });
    return this.#next;
  }
}
