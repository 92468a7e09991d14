/**
 * Broken brokers, each with one bug, run through the kit groups that should catch it. Not
 * part of the normal run: test/kit-catches-bugs.test.ts runs this file in a child Vitest and
 * checks that the named tests FAIL.
 */
import { createMemoryAdapter, type Broker, type BrokerMessage, type Delivery } from '@tq/core/adapter';
import { describe } from 'vitest';
import { describeAckReject, describeBroadcast, describeClose, describeCompetingConsumers, describeDelayedDelivery, describePrefetch, describePublishConsume, describePublishDeduplication, describePurge, describeQueueStats, describeRedelivery, describeTransactionalPublish } from '../../src/index.js';
import type { BrokerFactory, ConformanceOptions } from '../../src/options.js';
import { mutantBroker, type BrokerMutation } from './mutant-broker.js';

function factoryWith(mutation: BrokerMutation): BrokerFactory {
  const memory = createMemoryAdapter();
  return (url) => mutantBroker(memory.createBroker!(url, {}), mutation);
}

const options: ConformanceOptions = {
  url: 'memory://mutants',
  cutConnection: (broker: Broker) => broker.close(),
  scale: { competingMessages: 2_000 },
  // Mutants fail by timing out on what never comes: keep those waits short.
  timeouts: { deliveryMs: 3_000, redeliveryMs: 3_000, quietMs: 300 },
};

describe('mutant: drops unknown headers', () => {
  describePublishConsume(
    factoryWith({
      publish: (inner, queue, message) => inner.publish(queue, { ...message, headers: { id: message.headers['id'] ?? null, task: 'tq.conformance' } }),
    }),
    options,
  );
});

describe('mutant: truncates bodies over 64 KiB', () => {
  describePublishConsume(
    factoryWith({ publish: (inner, queue, message) => inner.publish(queue, { ...message, body: message.body.slice(0, 65_536) }) }),
    options,
  );
});

describe('mutant: claims delayedDelivery, delivers at once', () => {
  describeDelayedDelivery(
    factoryWith({
      publish: (inner, queue, message) => {
        const { notBefore: _ignored, ...now } = message;
        return inner.publish(queue, now);
      },
    }),
    options,
  );
});

describe('mutant: listDelayed ignores its limit and lists latest first', () => {
  describeDelayedDelivery(factoryWith({ listDelayed: async (inner, queue) => (await inner.listDelayed!(queue, { limit: 1_000 })).reverse() }), options);
});

describe('mutant: claims purgeDelayed, purges ready messages only', () => {
  // As RabbitMQ's shared delay queues would: the delayed messages survive the purge.
  describePurge(
    factoryWith({
      purge: async (inner, queue) => {
        const delayed = await inner.listDelayed!(queue, { limit: 1_000 });
        const removed = await inner.purge!(queue);
        for (const { notBefore, headers } of delayed) {
          await inner.publish(queue, { body: new TextEncoder().encode(JSON.stringify(headers['id'])), headers, properties: { contentType: 'application/json', contentEncoding: 'utf-8' }, notBefore });
        }
        return removed - delayed.length;
      },
    }),
    options,
  );
});

describe('mutant: ignores prefetch', () => {
  describePrefetch(factoryWith({ consumeOptions: (o) => ({ ...o, prefetch: o.prefetch * 3 }) }), options);
});

describe('mutant: never flags redelivered', () => {
  describeAckReject(factoryWith({ delivery: (d) => ({ ...d, redelivered: false }) }), options);
  describeRedelivery(factoryWith({ delivery: (d) => ({ ...d, redelivered: false }) }), options);
});

describe('mutant: reject(false) requeues', () => {
  describeAckReject(factoryWith({ delivery: (d) => ({ ...d, reject: () => d.reject(true) }) }), options);
});

describe('mutant: every 50th ack also republishes', () => {
  let acks = 0;
  describeCompetingConsumers(
    factoryWith({
      delivery: (d, inner, queue) => ({
        ...d,
        ack: async () => {
          await d.ack();
          if (++acks % 50 === 0) await inner.publish(queue, d.message);
        },
      }),
    }),
    options,
  );
});

describe('mutant: close acks what is outstanding (loses it)', () => {
  const loseOnClose: BrokerMutation = {
    close: async (inner, outstanding) => {
      await Promise.all([...outstanding].map((d) => d.ack()));
      await inner.close();
    },
  };
  describeClose(factoryWith(loseOnClose), options);
  describeRedelivery(factoryWith(loseOnClose), options);
});

describe('mutant: only the first subscriber of a channel hears broadcasts', () => {
  const taken = new Set<string>();
  describeBroadcast(
    factoryWith({
      subscribe: (inner, channel, signal) => {
        if (!taken.has(channel)) {
          taken.add(channel);
          return inner.subscribe!(channel, signal);
        }
        // Later subscribers get a stream that stays silent until aborted.
        return (async function* () {
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        })();
      },
    }),
    options,
  );
});

describe('mutant: topic subscribers ignore their binding pattern', () => {
  describeBroadcast(
    factoryWith({
      subscribe: (inner, channel, signal, binding) => inner.subscribe!(channel, signal, binding ? { ...binding, pattern: '#' } : binding),
    }),
    options,
  );
});

describe('mutant: queueStats counts unacked deliveries as ready', () => {
  describeQueueStats(
    factoryWith({
      queueStats: async (inner, queue) => {
        const stats = await inner.queueStats!(queue);
        return { ...stats, ready: stats.ready + (stats.unacked ?? 0) };
      },
    }),
    options,
  );
});

describe('mutant: gives unread deliveries back only 8 s after the stop', () => {
  // As a pull-based adapter that NAKs into its own still-open pull: what it prefetched but never
  // handed out reaches other consumers only after a redelivery-window-like delay.
  describeClose(
    factoryWith({
      consume: (inner, queue, options) => {
        const ahead: Delivery[] = [];
        const inner$ = inner.consume(queue, { ...options, signal: new AbortController().signal })[Symbol.asyncIterator]();
        let reading = true;
        void (async () => {
          while (reading) {
            const next = await inner$.next();
            if (next.done) return;
            if (reading) ahead.push(next.value);
            else await next.value.reject(true);
          }
        })();
        options.signal.addEventListener('abort', () => {
          reading = false;
          setTimeout(() => {
            for (const unread of ahead.splice(0)) void unread.reject(true);
            void inner$.return?.();
          }, 8_000);
        }, { once: true });
        return (async function* () {
          while (!options.signal.aborted) {
            const delivery = ahead.shift();
            if (delivery) yield delivery;
            else await new Promise((resolve) => setTimeout(resolve, 10));
          }
        })();
      },
    }),
    { ...options, timeouts: { ...options.timeouts, handBackMs: 3_000 } },
  );
});

describe('mutant: publishInTransaction ignores the transaction', () => {
  const memory = createMemoryAdapter();
  const factory: BrokerFactory = (url) => {
    const inner = memory.createBroker!(url, {});
    return Object.assign(mutantBroker(inner, {}), {
      capabilities: { ...inner.capabilities, transactionalPublish: true },
      publishInTransaction: (_transaction: unknown, queue: string, message: BrokerMessage) => inner.publish(queue, message),
    });
  };
  describeTransactionalPublish(factory, { ...options, transactions: async () => ({ transaction: {}, commit: async () => undefined, rollback: async () => undefined }) });
});


describe('mutant: claims publish deduplication, ignores the id', () => {
  describePublishDeduplication(
    factoryWith({
      publish: (inner, queue, message) => {
        const { deduplicationId: _ignored, ...plain } = message;
        return inner.publish(queue, plain);
      },
    }),
    options,
  );
});
