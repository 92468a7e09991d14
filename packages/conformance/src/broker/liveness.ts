import { isTqError, RuntimeBroker, type Delivery } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { ContinuousReader } from '../support/continuous-reader.js';
import { idOf, kitMessage } from '../support/messages.js';
import { eventually, sleep, withTimeout } from '../support/timing.js';
import { needs } from '../support/titles.js';

/** Timer slack on top of the detection bound (a loaded CI machine runs timers late). */
const slackMs = 3_000;

type Outcome = { ok: true } | { ok: false; error: unknown };

function outcome(promise: Promise<unknown>): Promise<Outcome> {
  return promise.then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/**
 * A broker that goes silent: the TCP connection stays open but nothing answers (a half-open
 * connection after the broker's host rebooted, a NAT or firewall that forgot the flow, a frozen
 * server). Unlike a refused or reset connection, nothing tells the client: it must notice by
 * itself, within a bound. The fault proxy makes every open connection silent for good and new
 * ones silent until the network "heals". Each test runs with `liveness.query` added to the URL
 * (the adapter's short liveness timeouts) and expects detection within `liveness.detectionMs`.
 */
export function describeLiveness(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('broker liveness (silent connection)', () => {
    const h = new BrokerHarness(factory, options);
    const { deliveryMs } = h.options.timeouts;
    const liveness = h.options.liveness;
    const enabled = h.canProxy && liveness !== undefined;
    const detectionMs = liveness?.detectionMs ?? 30_000;
    const budget = detectionMs + slackMs;

    const withLivenessQuery = (url: URL): URL => {
      const tuned = new URL(url.href);
      for (const [key, value] of Object.entries(liveness?.query ?? {})) tuned.searchParams.set(key, value);
      return tuned;
    };

    it.skipIf(!enabled)(
      `publish on a silent connection rejects with BrokerConnectionError within the bound, and succeeds again once the network heals ${needs.liveness}`,
      async () => {
        const queue = h.queue('silent-publish');
        const { proxy, url } = await h.proxy();
        // No retries: the bound is the adapter's, per attempt.
        const broker = new RuntimeBroker(factory(withLivenessQuery(url)), { retry: { maxRetries: 0, initialDelayMs: 100, maxDelayMs: 100 } });
        try {
          await broker.publish(queue, kitMessage('before'));
          proxy.silence();
          proxy.setMode('drop');
          const started = Date.now();
          const during = await withTimeout(outcome(broker.publish(queue, kitMessage('during'))), budget, `publish on a silent connection to settle within ${detectionMs} ms (it hung)`);
          const tookMs = Date.now() - started;
          expect(during.ok, 'publish resolved although nothing answered on the connection').toBe(false);
          const error = (during as { error: unknown }).error;
          expect(isTqError(error, 'TQ_BROKER_UNAVAILABLE'), `expected BrokerConnectionError (TQ_BROKER_UNAVAILABLE), got: ${String(error)}`).toBe(true);
          console.info(`[conformance] publish on a silent connection rejected after ${tookMs} ms: ${(error as Error).message}`);

          proxy.setMode('forward');
          const healed = Date.now();
          // Each attempt is bounded too: a publish that hangs after the heal is the bug.
          await eventually(() => withTimeout(broker.publish(queue, kitMessage('after')), budget, 'publish after the network healed'), {
            timeoutMs: detectionMs + deliveryMs,
            intervalMs: 200,
          });
          console.info(`[conformance] publish succeeded again ${Date.now() - healed} ms after the network healed`);
          const consumer = h.consumer(h.broker(), queue, 10);
          const ids: string[] = [];
          for (;;) {
            const delivery = await consumer.poll(ids.length === 0 ? deliveryMs : h.options.timeouts.quietMs * 2);
            if (!delivery) break;
            ids.push(idOf(delivery.message));
            await delivery.ack();
          }
          expect(ids).toContain('before');
          expect(ids).toContain('after');
        } finally {
          proxy.setMode('forward');
          await withTimeout(broker.close(), budget, 'closing the broker').catch(() => undefined);
        }
      },
      2 * budget + deliveryMs * 3 + 10_000,
    );

    it.skipIf(!enabled)(
      `a consumer on a silent connection notices within the bound, reconnects, and resumes on the same stream once the network heals ${needs.liveness}`,
      async () => {
        const queue = h.queue('silent-consume');
        const { proxy, url } = await h.proxy();
        const publisher = h.broker();
        const reader = new ContinuousReader(h.broker(withLivenessQuery(url)), queue);
        try {
          await publisher.publish(queue, kitMessage('before'));
          await reader.waitFor(1, deliveryMs);
          // Let the ack of 'before' reach the broker before the silence.
          await sleep(h.options.timeouts.quietMs);
          const accepted = proxy.acceptedConnections;
          proxy.silence();
          proxy.setMode('drop');
          const started = Date.now();
          await publisher.publish(queue, kitMessage('during'));
          // A half-open connection never comes back: noticing means opening a new one.
          await eventually(
            () => expect(proxy.acceptedConnections, `no new connection within ${detectionMs} ms: the consumer did not notice the silence`).toBeGreaterThan(accepted),
            { timeoutMs: budget, intervalMs: 50 },
          );
          console.info(`[conformance] a silent consumer connection was noticed (new connection) after ${Date.now() - started} ms`);
          proxy.setMode('forward');
          const healed = Date.now();
          await reader.waitFor(2, detectionMs + h.redeliveryMs);
          const ids = reader.received.map((d) => idOf(d.message));
          expect(ids).toContain('during');
          console.info(`[conformance] consumption resumed ${Date.now() - healed} ms after the network healed`);
        } finally {
          proxy.setMode('forward');
          await withTimeout(reader.stop(), budget, 'stopping the reader').catch(() => undefined);
        }
      },
      2 * budget + deliveryMs * 2 + 30_000,
    );

    it.skipIf(!enabled)(
      `ack and close() on a silent connection settle within the bound; the unacked delivery comes back ${needs.liveness}`,
      async () => {
        const queue = h.queue('silent-close');
        const { proxy, url } = await h.proxy();
        const publisher = h.broker();
        const broker = new RuntimeBroker(factory(withLivenessQuery(url)), { retry: { maxRetries: 0, initialDelayMs: 100, maxDelayMs: 100 } });
        try {
          const consumer = h.consumer(broker, queue, 1);
          await publisher.publish(queue, kitMessage('held'));
          const delivery: Delivery = await consumer.next(deliveryMs);
          expect(idOf(delivery.message)).toBe('held');
          proxy.silence();
          proxy.setMode('drop');
          let started = Date.now();
          // Resolving is allowed (an AMQP ack has no reply); hanging is not.
          const ack = await withTimeout(outcome(delivery.ack()), budget, `ack on a silent connection to settle within ${detectionMs} ms (it hung)`);
          console.info(`[conformance] ack on a silent connection ${ack.ok ? 'resolved' : 'rejected'} after ${Date.now() - started} ms`);
          started = Date.now();
          await withTimeout(Promise.all([consumer.stop(), broker.close()]), budget, `stopping and closing on a silent connection within ${detectionMs} ms (it hung)`);
          console.info(`[conformance] consumer stop + close() on a silent connection took ${Date.now() - started} ms`);
          proxy.setMode('forward');
          // The ack never reached the broker: the delivery is still unacked there and comes back.
          const again = await h.consumer(publisher, queue, 1).next(h.redeliveryMs + detectionMs);
          expect(idOf(again.message)).toBe('held');
          await again.ack();
        } finally {
          proxy.setMode('forward');
          await withTimeout(broker.close(), budget, 'closing the broker').catch(() => undefined);
        }
      },
      3 * budget + deliveryMs + 60_000,
    );
  });
}
