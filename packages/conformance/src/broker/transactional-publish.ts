import { isTransactionalPublisher } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions, KitTransaction } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { expectSameMessage, idOf, kitMessage } from '../support/messages.js';
import { needs } from '../support/titles.js';

/**
 * publishInTransaction: a message written through the caller's own transaction exists if and
 * only if that transaction commits, and no consumer sees it before the commit.
 */
export function describeTransactionalPublish(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('transactional publish', () => {
    const h = new BrokerHarness(factory, options);
    const claimed = h.capabilities.transactionalPublish;
    const { deliveryMs, quietMs } = h.options.timeouts;

    /** The adapter's own instance (the runtime guard does not carry publishInTransaction). */
    async function transactional() {
      const broker = factory(h.options.url);
      expect(isTransactionalPublisher(broker), 'transactionalPublish is declared but publishInTransaction is missing').toBe(true);
      if (!isTransactionalPublisher(broker)) throw new Error('unreachable');
      await broker.connect();
      return broker;
    }

    async function begin(): Promise<KitTransaction> {
      const open = h.options.transactions;
      if (!open) throw new Error('the broker declares transactionalPublish: give the kit a `transactions` option that opens one (see ConformanceOptions.transactions)');
      return open();
    }

    it.skipIf(!claimed)(`rollback: the message never exists ${needs.capability('transactionalPublish')}`, async () => {
      const queue = h.queue('tx-rollback');
      const broker = await transactional();
      try {
        const tx = await begin();
        await broker.publishInTransaction(tx.transaction, queue, kitMessage('rolled-back'));
        await tx.rollback();
        await h.broker().publish(queue, kitMessage('after'));
        const consumer = h.consumer(h.broker(), queue, 4);
        const first = await consumer.next(deliveryMs);
        expect(idOf(first.message), 'a rolled-back message was delivered').toBe('after');
        await first.ack();
        expect(await consumer.poll(quietMs), 'a rolled-back message was delivered').toBeUndefined();
      } finally {
        await broker.close();
      }
    });

    it.skipIf(!claimed)(`commit: invisible until the commit, then delivered once, exact ${needs.capability('transactionalPublish')}`, async () => {
      const queue = h.queue('tx-commit');
      const broker = await transactional();
      try {
        const consumer = h.consumer(h.broker(), queue, 4);
        const message = kitMessage('committed');
        const tx = await begin();
        await broker.publishInTransaction(tx.transaction, queue, message);
        expect(await consumer.poll(Math.max(quietMs, 1_000)), 'delivered before its transaction committed').toBeUndefined();
        await tx.commit();
        const delivered = await consumer.next(deliveryMs);
        expectSameMessage(delivered.message, message);
        await delivered.ack();
        expect(await consumer.poll(quietMs), 'a committed message was delivered twice').toBeUndefined();
      } finally {
        await broker.close();
      }
    });
  });
}
