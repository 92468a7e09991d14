/**
 * The kit on Kafka: TQ_TEST_KAFKA_BROKERS, a KRaft container, or librdkafka's mock cluster
 * (integration/kafka-mock). Kafka-specific wiring:
 * - clients learn broker addresses from metadata and would bypass a TCP proxy, so connections
 *   are cut on the adapter's own sockets (SocketCutter, through its socketFactory option);
 * - each queue is a consumer group whose first join waits for the rebalance delay: 20 queues;
 * - on the mock cluster: no CreateTopics (the launcher creates topics), no idempotent producer,
 *   restarts through the launcher, and no group of two live kafkajs members ever syncs, so
 *   "competing consumers" is skipped there with that reason (it runs on a real Kafka).
 */
import { brokerGroups, describeApp, describeCompetingConsumers, describeDeadLetters, type ConformanceOptions } from '@tq/conformance';
import { describe, it } from 'vitest';
import { runConformance } from '../harness/run-conformance.js';
import { SocketCutter } from '../harness/socket-cutter.js';

const cutter = new SocketCutter();
const timings = { sessionTimeoutMs: '6000', heartbeatIntervalMs: '500', maxWaitTimeMs: '50' };

await runConformance({
  broker: 'kafka',
  packageName: '@tq/kafka',
  load: () => import('@tq/kafka'),
  configure: (endpoint): ConformanceOptions => {
    const url = new URL(endpoint.url);
    for (const [key, value] of Object.entries(timings)) url.searchParams.set(key, value);
    if (endpoint.source === 'kafka-mock') url.searchParams.set('idempotent', 'false');
    return {
      url: url.href,
      proxyUrl: false,
      cutConnection: (broker) => cutter.cut(broker),
      ...(endpoint.restart ? { restartBroker: endpoint.restart } : {}),
      // Unread deliveries of a stopped consumer come back through a group rebalance.
      timeouts: { redeliveryMs: 40_000, handBackMs: 40_000 },
      scale: { queues: 20 },
    };
  },
  register: (adapter, options, endpoint) => {
    const tracked = cutter.wrap(adapter);
    const adapterOptions = options.adapterOptions ?? {};
    describe('broker', () => {
      for (const group of brokerGroups) {
        if (group === describeCompetingConsumers && endpoint.source === 'kafka-mock') continue;
        group((url) => tracked.createBroker!(url, adapterOptions), options);
      }
      if (endpoint.source === 'kafka-mock') {
        it.skip('competing consumers: not on the librdkafka mock cluster (it never syncs a group of two live kafkajs members)', () => undefined);
      }
    });
    describeApp(tracked, options);
    describeDeadLetters(tracked, options);
  },
});
