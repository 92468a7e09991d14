/**
 * The tq conformance kit on @tq/kafka: against TQ_TEST_KAFKA_BROKERS when set, else against
 * librdkafka's mock cluster (integration/kafka-mock); and against a real Kafka image through
 * Testcontainers when a Docker engine answers.
 *
 * Kafka-specific wiring, and why:
 * - cutConnection: Kafka clients learn broker addresses from metadata and would bypass the kit's
 *   TCP proxy, so the cut is done on the adapter's own sockets (kafkajs socketFactory).
 * - restartBroker (mock): the launcher takes its brokers down and up again, data kept.
 * - scale: every queue is a consumer group whose first join waits for the cluster's rebalance
 *   delay (3 s in the mock and by default in Kafka), so the many-queues test uses 20 queues.
 * - The mock cluster (librdkafka 2.0.2) never completes a SyncGroup when two live kafkajs
 *   members share a group (both get REBALANCE_IN_PROGRESS after the session timeout, forever),
 *   so "competing consumers" runs only against a real Kafka; on the mock it is listed as skipped.
 */
import { execFileSync } from 'node:child_process';
import type { TqAdapter } from '@tq/core/adapter';
import { describeAdapter, describeApp, brokerGroups, describeCompetingConsumers, type ConformanceOptions } from '@tq/conformance';
import { afterAll, describe, it } from 'vitest';
import kafka from '../src/index.js';
import { ConnectionCutter, startTestCluster } from './support/cluster.js';
import { startKafkaContainer } from './support/container.js';

const cluster = await startTestCluster();
afterAll(() => cluster.stop());

function wiredAdapter(cutter: ConnectionCutter): TqAdapter {
  return { ...kafka, createBroker: (url, options) => cutter.createBroker(url, options) };
}

const cutter = new ConnectionCutter();
const mock = cluster.mock;
const options: ConformanceOptions = {
  url: cluster.url,
  adapterOptions: cluster.adapterOptions,
  cutConnection: async (broker) => cutter.cut(broker),
  proxyUrl: false,
  timeouts: { redeliveryMs: 40_000 },
  scale: { queues: 20 },
};

if (mock) {
  describe('Kafka (librdkafka mock cluster)', () => {
    const adapter = wiredAdapter(cutter);
    const withRestart: ConformanceOptions = {
      ...options,
      restartBroker: async () => {
        await mock.setBrokerDown(-1);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await mock.setBrokerUp(-1);
      },
    };
    describe('broker', () => {
      for (const group of brokerGroups) {
        if (group !== describeCompetingConsumers) group((url) => adapter.createBroker!(url, cluster.adapterOptions), withRestart);
      }
      it.skip('competing consumers: not run on the mock cluster (it cannot sync a group of two live kafkajs members)', () => undefined);
    });
    describeApp(adapter, withRestart);
  });
} else {
  describe('Kafka (TQ_TEST_KAFKA_BROKERS)', () => {
    describeAdapter(wiredAdapter(cutter), options);
  });
}

function dockerAnswers(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

if (dockerAnswers()) {
  const container = await startKafkaContainer();
  afterAll(() => container.stop());
  const realCutter = new ConnectionCutter();
  describe('Kafka (real broker via Testcontainers)', () => {
    describeAdapter(wiredAdapter(realCutter), {
      url: container.url,
      cutConnection: async (broker) => realCutter.cut(broker),
      proxyUrl: false,
      timeouts: { redeliveryMs: 40_000 },
      scale: { queues: 20 },
    });
  });
} else {
  describe('Kafka (real broker via Testcontainers)', () => {
    it.skip('not run: `docker info` failed, no Docker engine on this machine', () => undefined);
  });
}
