import type { Broker, BrokerMessage } from '../broker/broker.js';
import type { Logger } from '../logger.js';
import { UnsupportedError } from '../errors.js';

/**
 * Enqueue in the caller's own database transaction: `sendTask(name, args, kwargs,
 * { transaction })` writes the task where the business write goes, so the task exists if and
 * only if that transaction commits. Two ways:
 * - a broker that lives in the database (@tq/postgres) inserts the message itself
 *   (`Broker.publishInTransaction`);
 * - any other broker gets an outbox (`TqConfig.outbox`, e.g. @tq/postgres' PostgresOutbox): the
 *   message is written to an outbox table in the transaction, and every worker of the app
 *   takes part in relaying committed rows to the broker (one at a time, in order per queue,
 *   at least once, with the task id unchanged).
 */
export interface TransactionalPublisher {
  /** Inserts `message` for `queue` through `transaction` (the adapter's client, inside BEGIN). */
  publishInTransaction(transaction: unknown, queue: string, message: BrokerMessage): Promise<void>;
}

/** An outbox table in the application's database, relayed to the app's broker. */
export interface Outbox {
  /** Writes `message` for `queue` into the outbox through `transaction`. */
  write(transaction: unknown, queue: string, message: BrokerMessage): Promise<void>;
  /**
   * Publishes committed outbox rows with `publish` and deletes them, until `signal` aborts.
   * Any number of processes may run it: the outbox lets one relay at a time and hands over
   * when that one dies. A row is deleted only after `publish` resolved (at-least-once).
   */
  relay(publish: (queue: string, message: BrokerMessage) => Promise<void>, signal: AbortSignal, logger?: Logger): Promise<void>;
}

export function isTransactionalPublisher(broker: Broker): broker is Broker & TransactionalPublisher {
  return typeof (broker as Partial<TransactionalPublisher>).publishInTransaction === 'function';
}

/** Where a task sent with `{ transaction }` goes: the broker itself, else the outbox, else a clear error. */
export async function publishInTransaction(broker: Broker, outbox: Outbox | undefined, transaction: unknown, queue: string, message: BrokerMessage): Promise<void> {
  if (outbox) return outbox.write(transaction, queue, message);
  if (isTransactionalPublisher(broker)) return broker.publishInTransaction(transaction, queue, message);
  throw new UnsupportedError(
    'sendTask with { transaction }: this broker cannot write in a database transaction; configure an outbox (TqConfig.outbox, e.g. new PostgresOutbox(...) from @tq/postgres) or use the postgres:// broker',
  );
}

/** A worker's share of relaying the outbox: runs until the returned stop function is called. */
export function startOutboxRelay(outbox: Outbox | undefined, publish: (queue: string, message: BrokerMessage) => Promise<void>, logger: Logger): (() => void) | undefined {
  if (!outbox) return undefined;
  const controller = new AbortController();
  void outbox.relay(publish, controller.signal, logger).catch((error: unknown) => logger.error(`outbox relay stopped: ${(error as Error).message}`));
  return () => controller.abort();
}
