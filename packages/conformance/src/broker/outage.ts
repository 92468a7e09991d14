import { isTqError, RuntimeBroker } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { idOf, kitMessage } from '../support/messages.js';
import { ContinuousReader } from '../support/continuous-reader.js';
import { sleep, withTimeout } from '../support/timing.js';
import { needs } from '../support/titles.js';

/**
 * The broker going away: publish must fail clearly (BrokerConnectionError, so core retries) or
 * succeed once the broker is back, never resolve and drop; consumers resume after a restart.
 */
export function describeOutage(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('broker outage', () => {
    const h = new BrokerHarness(factory, options);
    const { deliveryMs, outageMs, quietMs } = h.options.timeouts;

    it.skipIf(!h.canProxy)(
      `publish while the broker is unreachable rejects with BrokerConnectionError ${needs.proxy}`,
      async () => {
        const queue = h.queue('publish-down');
        const { proxy, url } = await h.proxy();
        const adapterBroker = factory(url);
        const broker = new RuntimeBroker(adapterBroker, { retry: { maxRetries: 1, initialDelayMs: 100, maxDelayMs: 100 } });
        try {
          await broker.publish(queue, kitMessage('before'));
          proxy.setMode('refuse');
          const started = Date.now();
          const outcome = await withTimeout(
            broker.publish(queue, kitMessage('during')).then(
              () => ({ ok: true as const }),
              (error: unknown) => ({ ok: false as const, error }),
            ),
            outageMs,
            'publish to settle while the broker is unreachable (it hung)',
          );
          expect(outcome.ok, 'publish resolved although the broker was unreachable').toBe(false);
          const error = (outcome as { error: unknown }).error;
          expect(isTqError(error, 'TQ_BROKER_UNAVAILABLE'), `expected BrokerConnectionError (TQ_BROKER_UNAVAILABLE), got: ${String(error)}`).toBe(true);
          console.info(`[conformance] publish during outage rejected after ${Date.now() - started} ms: ${(error as Error).message}`);
        } finally {
          proxy.setMode('forward');
          await withTimeout(broker.close(), 10_000, 'closing the broker after the outage').catch(() => undefined);
        }
      },
      outageMs + 30_000,
    );

    it.skipIf(!h.canProxy)(
      `publish during a short outage is delivered once the broker is back, or rejects clearly ${needs.proxy}`,
      async () => {
        const queue = h.queue('publish-blip');
        const { proxy, url } = await h.proxy();
        const broker = new RuntimeBroker(factory(url), { retry: { maxRetries: 6, initialDelayMs: 200, maxDelayMs: 1_000 } });
        try {
          await broker.publish(queue, kitMessage('before'));
          proxy.setMode('refuse');
          const publishing = broker.publish(queue, kitMessage('during')).then(
            () => ({ ok: true as const }),
            (error: unknown) => ({ ok: false as const, error }),
          );
          await sleep(1_000);
          proxy.setMode('forward');
          const outcome = await withTimeout(publishing, outageMs, 'publish to settle after the broker came back');
          const consumer = h.consumer(h.broker(), queue, 10);
          const ids: string[] = [];
          for (;;) {
            const delivery = await consumer.poll(ids.length === 0 ? deliveryMs : quietMs * 2);
            if (!delivery) break;
            ids.push(idOf(delivery.message));
            await delivery.ack();
          }
          expect(ids, 'the message published before the outage').toContain('before');
          if (outcome.ok) {
            expect(ids, 'publish resolved but the message never arrived').toContain('during');
          } else {
            expect(isTqError(outcome.error, 'TQ_BROKER_UNAVAILABLE'), `rejected with ${String(outcome.error)}`).toBe(true);
          }
          console.info(`[conformance] publish during a 1 s outage: ${outcome.ok ? 'retried and delivered' : 'rejected'}`);
        } finally {
          await withTimeout(broker.close(), 10_000, 'closing the broker after the outage').catch(() => undefined);
        }
      },
      outageMs + 30_000,
    );

    it.skipIf(!h.canRestart)(
      `consumption resumes after a broker restart, on the same consume stream ${needs.restart}`,
      async () => {
        const queue = h.queue('restart');
        const brokers = await h.restartable();
        const publisher = brokers.broker();
        const reader = new ContinuousReader(brokers.broker(), queue);
        try {
          await publisher.publish(queue, kitMessage('before-restart'));
          await reader.waitFor(1, deliveryMs);
          await brokers.restart();
          await publisher.publish(queue, kitMessage('after-restart'));
          await reader.waitFor(2, outageMs);
          const ids = reader.received.map((d) => idOf(d.message));
          expect(ids.filter((id) => id === 'before-restart').length, `a message acked before the restart came back: ${ids.join(', ')}`).toBe(1);
          expect(ids).toEqual(['before-restart', 'after-restart']);
          console.info(`[conformance] consume stream survived a restart via ${brokers.method}`);
        } finally {
          await reader.stop();
        }
      },
      outageMs * 2 + 30_000,
    );
  });
}
