/**
 * Where the integration suites find each broker, in this order:
 *   1. the environment: TQ_TEST_REDIS_URL, TQ_TEST_AMQP_URL, TQ_TEST_NATS_URL,
 *      TQ_TEST_KAFKA_BROKERS (host:port[,host:port…]), TQ_TEST_POSTGRES_URL, TQ_TEST_MYSQL_URL;
 *   2. Testcontainers, when a Docker engine answers (redis, rabbitmq, nats -js, apache/kafka KRaft);
 *   3. the local default ports (redis 6379 db 15, amqp 5672 guest/guest, nats 4222,
 *      postgres 5432 database "test", MariaDB/MySQL 3306 root database "test"), and for
 *      Kafka the librdkafka mock cluster from integration/kafka-mock/launch.mjs.
 * Each candidate must accept a TCP connection. A broker found nowhere is "missing": its suites
 * fail when CI=true and are skipped (with the reason) otherwise.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { redactUrl, type AdapterOptions } from '@tq/core/adapter';
import { dockerAnswers } from './docker.js';
import { tcpAnswers } from './tcp.js';

export type BrokerName = 'redis' | 'amqp' | 'nats' | 'kafka' | 'postgres' | 'mysql';
export type EndpointSource = 'env' | 'testcontainers' | 'local' | 'kafka-mock' | 'missing';

export interface BrokerEndpoint {
  readonly name: BrokerName;
  /** The broker URL the adapter is given; undefined when missing. */
  readonly url: string | undefined;
  readonly source: EndpointSource;
  /** One line for humans: where it came from, the redacted URL, or why it is missing. */
  readonly detail: string;
  /** Extra adapter options the endpoint needs (the Kafka mock's topic creator). */
  readonly adapterOptions: AdapterOptions;
  /** Stops what the harness started (container, mock cluster). */
  stop(): Promise<void>;
  /** Restarts the broker, data kept, when the harness controls it (the Kafka mock cluster). */
  readonly restart?: () => Promise<void>;
}

const envNames: Readonly<Record<BrokerName, string>> = {
  redis: 'TQ_TEST_REDIS_URL',
  amqp: 'TQ_TEST_AMQP_URL',
  nats: 'TQ_TEST_NATS_URL',
  kafka: 'TQ_TEST_KAFKA_BROKERS',
  postgres: 'TQ_TEST_POSTGRES_URL',
  mysql: 'TQ_TEST_MYSQL_URL',
};

const localUrls: Readonly<Record<Exclude<BrokerName, 'kafka'>, string>> = {
  redis: 'redis://127.0.0.1:6379/15',
  amqp: 'amqp://guest:guest@127.0.0.1:5672',
  nats: 'nats://127.0.0.1:4222',
  postgres: 'postgres://postgres@127.0.0.1:5432/test',
  mysql: 'mysql://root@127.0.0.1:3306/test',
};

const kafkaMockLauncher = fileURLToPath(new URL('../kafka-mock/launch.mjs', import.meta.url));
const nothingToStop = async (): Promise<void> => undefined;

/** `TQ_TEST_KAFKA_BROKERS=h1:9092,h2:9092` → kafka://h1:9092?brokers=h2:9092 */
export function kafkaUrlFromBrokers(list: string): string {
  const [first, ...rest] = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (!first) throw new Error('TQ_TEST_KAFKA_BROKERS is empty');
  return `kafka://${first}${rest.length ? `?brokers=${rest.join(',')}` : ''}`;
}

/** host and port of a broker URL, or of the first bootstrap server for Kafka. */
function addressOf(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  const defaults: Record<string, number> = { redis: 6379, rediss: 6379, amqp: 5672, amqps: 5671, nats: 4222, tls: 4222, kafka: 9092, postgres: 5432, postgresql: 5432, mysql: 3306, mariadb: 3306 };
  return { host: parsed.hostname, port: parsed.port ? Number(parsed.port) : (defaults[parsed.protocol.replace(/:$/, '')] ?? 0) };
}

async function reachable(
  name: BrokerName,
  url: string,
  source: EndpointSource,
  stop = nothingToStop,
  adapterOptions: AdapterOptions = {},
  restart?: () => Promise<void>,
): Promise<BrokerEndpoint> {
  const { host, port } = addressOf(url);
  if (await tcpAnswers(host, port, 2_000)) {
    return { name, url, source, detail: `${source}: ${redactUrl(url)}`, adapterOptions, stop, ...(restart ? { restart } : {}) };
  }
  await stop();
  return missing(name, `${source} endpoint ${redactUrl(url)} does not accept connections`);
}

function missing(name: BrokerName, why: string): BrokerEndpoint {
  return { name, url: undefined, source: 'missing', detail: `missing: ${why}`, adapterOptions: {}, stop: nothingToStop };
}

/** Starts `name` in a container; resolves to its URL and a stop function. */
async function startContainer(name: BrokerName): Promise<{ url: string; stop: () => Promise<void> }> {
  const { GenericContainer, Wait } = await import('testcontainers');
  switch (name) {
    case 'redis': {
      const c = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
      return { url: `redis://${c.getHost()}:${c.getMappedPort(6379)}/15`, stop: async () => void (await c.stop()) };
    }
    case 'amqp': {
      const c = await new GenericContainer('rabbitmq:3.13-alpine')
        .withExposedPorts(5672)
        .withWaitStrategy(Wait.forLogMessage(/Server startup complete/))
        .withStartupTimeout(120_000)
        .start();
      return { url: `amqp://guest:guest@${c.getHost()}:${c.getMappedPort(5672)}`, stop: async () => void (await c.stop()) };
    }
    case 'nats': {
      const c = await new GenericContainer('nats:2-alpine').withCommand(['-js']).withExposedPorts(4222).withWaitStrategy(Wait.forLogMessage(/Server is ready/)).start();
      return { url: `nats://${c.getHost()}:${c.getMappedPort(4222)}`, stop: async () => void (await c.stop()) };
    }
    case 'postgres': {
      const c = await new GenericContainer('postgres:15-alpine')
        .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'test' })
        .withExposedPorts(5432)
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start();
      return { url: `postgres://postgres@${c.getHost()}:${c.getMappedPort(5432)}/test`, stop: async () => void (await c.stop()) };
    }
    case 'mysql': {
      const c = await new GenericContainer('mariadb:11')
        .withEnvironment({ MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: '1', MARIADB_DATABASE: 'test' })
        .withExposedPorts(3306)
        .withWaitStrategy(Wait.forLogMessage(/ready for connections/, 2))
        .start();
      return { url: `mysql://root@${c.getHost()}:${c.getMappedPort(3306)}/test`, stop: async () => void (await c.stop()) };
    }
    case 'kafka': {
      // KRaft single node. The advertised listener must be the address clients reach, so the
      // host port is chosen up front and bound 1:1.
      const { createServer } = await import('node:net');
      const port = await new Promise<number>((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => resolve(p));
        });
      });
      const c = await new GenericContainer('apache/kafka:3.9.1')
        .withExposedPorts({ container: 9092, host: port })
        .withEnvironment({
          KAFKA_NODE_ID: '1',
          KAFKA_PROCESS_ROLES: 'broker,controller',
          KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
          KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port}`,
          KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
          KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
          KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
          KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
          KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
          KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
          KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        })
        .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
        .withStartupTimeout(120_000)
        .start();
      return { url: `kafka://127.0.0.1:${port}`, stop: async () => void (await c.stop()) };
    }
  }
}

interface KafkaMock {
  readonly bootstrap: string;
  createTopic(name: string, partitions?: number): Promise<void>;
  setBrokerDown(id: number): Promise<void>;
  setBrokerUp(id: number): Promise<void>;
  stop(): Promise<void>;
}

/** Finds (or starts) the broker `name` for this test file. Call once per file; stop() in afterAll. */
export async function resolveBroker(name: BrokerName): Promise<BrokerEndpoint> {
  const fromEnv = process.env[envNames[name]];
  if (fromEnv) return reachable(name, name === 'kafka' ? kafkaUrlFromBrokers(fromEnv) : fromEnv, 'env');

  if (await dockerAnswers()) {
    try {
      const { url, stop } = await startContainer(name);
      return await reachable(name, url, 'testcontainers', stop);
    } catch (error) {
      console.warn(`[integration] ${name}: Testcontainers failed (${(error as Error).message}); trying local ports`);
    }
  }

  if (name !== 'kafka') return reachable(name, localUrls[name], 'local');

  if (!existsSync(kafkaMockLauncher)) return missing(name, `${envNames.kafka} is unset, no Docker, and integration/kafka-mock/launch.mjs is absent`);
  try {
    const { startKafkaMock } = (await import(/* @vite-ignore */ kafkaMockLauncher)) as { startKafkaMock: (o?: object) => Promise<KafkaMock> };
    const mock = await startKafkaMock({ brokers: 1 });
    const [first, ...rest] = mock.bootstrap.split(',');
    const url = `kafka://${first}${rest.length ? `?brokers=${rest.join(',')}` : ''}`;
    // The mock cluster has no CreateTopics API: the adapter creates topics through the launcher.
    const adapterOptions = { createTopic: (topic: string, partitions: number) => mock.createTopic(topic, partitions) };
    const restart = async () => {
      await mock.setBrokerDown(-1);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await mock.setBrokerUp(-1);
    };
    return await reachable(name, url, 'kafka-mock', () => mock.stop(), adapterOptions, restart);
  } catch (error) {
    return missing(name, `the Kafka mock cluster did not start: ${(error as Error).message}`);
  }
}

/** True when a missing broker must fail the run (CI), false when it may be skipped. */
export function brokersRequired(): boolean {
  return process.env['CI'] === 'true' || process.env['CI'] === '1';
}
