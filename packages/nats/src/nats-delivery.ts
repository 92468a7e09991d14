import type { JsMsg } from '@nats-io/jetstream';
import type { BrokerMessage, Delivery } from '@tq/core/adapter';
import { toTqError } from './errors.js';

export type Settlement = 'ack' | 'requeue' | 'dead' | 'abandon';

/**
 * One JetStream message handed to core. ack resolves once the server has received the ack
 * (see WriteBatch); reject(true) naks (immediate redelivery); reject(false) dead-letters;
 * extend() sends "in progress", which restarts AckWait. Only the first settlement counts.
 */
export class NatsDelivery implements Delivery {
  readonly message: BrokerMessage;
  readonly redelivered: boolean;
  readonly raw: JsMsg;
  readonly #settle: (delivery: NatsDelivery, outcome: Settlement) => Promise<void>;
  #settled = false;

  constructor(raw: JsMsg, message: BrokerMessage, settle: (delivery: NatsDelivery, outcome: Settlement) => Promise<void>, redelivered = raw.redelivered) {
    this.raw = raw;
    this.message = message;
    this.redelivered = redelivered;
    this.#settle = settle;
  }

  get settled(): boolean {
    return this.#settled;
  }

  ack(): Promise<void> {
    return this.#finish('ack');
  }

  reject(requeue: boolean): Promise<void> {
    return this.#finish(requeue ? 'requeue' : 'dead');
  }

  async extend(): Promise<void> {
    if (this.#settled) return;
    try {
      this.raw.working();
    } catch (error) {
      throw toTqError(error, 'extending a delivery');
    }
  }

  /** The broker is closing: give the message back now instead of after AckWait. */
  abandon(): Promise<void> {
    return this.#finish('abandon');
  }

  async #finish(outcome: Settlement): Promise<void> {
    if (this.#settled) return;
    this.#settled = true;
    await this.#settle(this, outcome);
  }
}
