import type { BrokerMessage, Delivery } from '@tq/core/adapter';

export type Settlement = 'ack' | 'requeue' | 'dead';

/** What a delivery needs from its broker: the SQL that settles or extends its lease. */
export interface LeaseActions {
  settle(delivery: PostgresDelivery, outcome: Settlement): Promise<void>;
  extend(delivery: PostgresDelivery): Promise<void>;
}

/**
 * One claimed row. The lease is fenced on (id, lease owner, deliveries): once the lease has
 * expired and another consumer claimed the row, this delivery's reject and extend change
 * nothing. Its ack still deletes the row: the task ran, so running it again is pointless.
 */
export class PostgresDelivery implements Delivery {
  readonly message: BrokerMessage;
  readonly redelivered: boolean;
  readonly id: string;
  readonly queue: string;
  readonly deliveries: number;
  readonly #actions: LeaseActions;
  #settled = false;

  constructor(row: { id: string; queue: string; deliveries: number }, message: BrokerMessage, actions: LeaseActions) {
    this.id = row.id;
    this.queue = row.queue;
    this.deliveries = row.deliveries;
    this.redelivered = row.deliveries > 1;
    this.message = message;
    this.#actions = actions;
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** Marks it settled without SQL: the broker gave it back already (hand-back, close). */
  markReturned(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    return true;
  }

  ack(): Promise<void> {
    return this.#finish('ack');
  }

  reject(requeue: boolean): Promise<void> {
    return this.#finish(requeue ? 'requeue' : 'dead');
  }

  async extend(): Promise<void> {
    if (this.#settled) return;
    await this.#actions.extend(this);
  }

  async #finish(outcome: Settlement): Promise<void> {
    if (this.#settled) return;
    this.#settled = true;
    await this.#actions.settle(this, outcome);
  }
}
