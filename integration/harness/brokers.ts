/**
 * Where the integration suites find each broker, in this order:
 *   1. the environment: TQ_TEST_REDIS_URL, TQ_TEST_AMQP_URL, TQ_TEST_NATS_URL,
 *      TQ_TEST_KAFKA_BROKERS (host:port[,host:port…]), TQ_TEST_POSTGRES_URL, TQ_TEST_MYSQL_URL;
 *   2. Testcontainers, when a Docker engine answers (redis, rabbitmq, nats -js, postgres, mariadb,
 *      apache/kafka KRaft), each on the host network on a free port, from an image already on the
 *      engine (never pulled; TQ_TEST_<BROKER>_IMAGE overrides it): see docker.ts;
 *   3. the local default ports (redis 6379 db 15, amqp 5672 guest/guest, nats 4222,
 *      postgres 5432 database "test", MariaDB/MySQL 3306 root database "test"), and for
 *      Kafka the librdkafka mock cluster from integration/kafka-mock/launch.mjs.
 * Each candidate must accept a TCP connection. A broker found nowhere is "missing": its suites
 * fail when CI=true and are skipped (with the reason) otherwise. TQ_TEST_SOURCE=testcontainers
 * or =local forces one source (see sourceChoice). Each broker logs one line saying whether
 * Testcontainers was used, and why (not).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { redactUrl, type AdapterOptions } from '@tq/core/adapter';
import { dockerStatus, freePort, startHostContainer, type DockerStatus, type HostContainerSpec } from './docker.js';
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

const buildHostImage = (target: string) =>
  `build it from this host's own server with \`bash ../shared/containers/build-hostbin.sh ${target}\` (integration/README.md, "Testcontainers")`;

/** Each broker in a container on the host network (see docker.ts), on a free port. */
const containerSpecs: Readonly<Record<BrokerName, HostContainerSpec & { url(port: number): string }>> = {
  redis: {
    name: 'redis',
    defaultImage: 'redis:7-alpine',
    buildHint: buildHostImage('redis'),
    command: (port) => ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--save', '', '--appendonly', 'no'],
    ready: /Ready to accept connections/,
    url: (port) => `redis://127.0.0.1:${port}/15`,
  },
  nats: {
    name: 'nats',
    defaultImage: 'nats:2-alpine',
    buildHint: buildHostImage('nats'),
    command: (port) => ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', '/tmp/nats'],
    ready: /Server is ready/,
    url: (port) => `nats://127.0.0.1:${port}`,
  },
  amqp: {
    name: 'amqp',
    defaultImage: 'rabbitmq:3.13-alpine',
    buildHint: buildHostImage('rabbitmq'),
    command: () => ['rabbitmq-server'],
    // Erlang's port mapper and the distribution port are the host's too: free ones of their own.
    environment: async (port) => ({
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(await freePort()),
      ERL_EPMD_PORT: String(await freePort()),
      RABBITMQ_NODENAME: `tq${port}@localhost`,
    }),
    ready: /Server startup complete/,
    startupTimeoutMs: 120_000,
    url: (port) => `amqp://guest:guest@127.0.0.1:${port}`,
  },
  postgres: {
    name: 'postgres',
    defaultImage: 'postgres:15-alpine',
    buildHint: 'no recipe builds it here: load one with `docker load`',
    command: (port) => ['postgres', '-p', String(port), '-c', 'listen_addresses=127.0.0.1'],
    environment: () => ({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'test' }),
    // Once for the init server, once for the real one.
    ready: /database system is ready to accept connections/,
    readyTimes: 2,
    url: (port) => `postgres://postgres@127.0.0.1:${port}/test`,
  },
  mysql: {
    name: 'mysql',
    defaultImage: 'mariadb:11',
    buildHint: 'no recipe builds it here: load one with `docker load`',
    command: (port) => ['--port', String(port), '--bind-address=127.0.0.1'],
    environment: () => ({ MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: '1', MARIADB_DATABASE: 'test' }),
    ready: /ready for connections/,
    readyTimes: 2,
    url: (port) => `mysql://root@127.0.0.1:${port}/test`,
  },
  kafka: {
    // KRaft single node; the advertised listener is the address clients reach.
    name: 'kafka',
    defaultImage: 'apache/kafka:3.9.1',
    buildHint: 'no Kafka image can be built on a machine without a registry (build-hostbin.sh has no Kafka): load one with `docker load`',
    command: () => ['/etc/kafka/docker/run'],
    environment: async (port) => {
      const controller = await freePort();
      return {
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port}`,
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        KAFKA_CONTROLLER_QUORUM_VOTERS: `1@127.0.0.1:${controller}`,
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      };
    },
    ready: /Kafka Server started/,
    startupTimeoutMs: 120_000,
    url: (port) => `kafka://127.0.0.1:${port}`,
  },
};

/** Starts `name` in a container; resolves to its URL, a stop function and a line saying what ran. */
async function startContainer(name: BrokerName): Promise<{ url: string; stop: () => Promise<void>; started: string }> {
  const spec = containerSpecs[name];
  const container = await startHostContainer(spec);
  return {
    url: spec.url(container.port),
    stop: container.stop,
    started: `${container.image} on 127.0.0.1:${container.port} (host network), ready in ${(container.startedInMs / 1000).toFixed(1)} s`,
  };
}

/**
 * TQ_TEST_SOURCE picks where brokers come from: unset, the order at the top of this file;
 * `testcontainers`, containers only (the environment's URLs are ignored, and a broker whose
 * container does not start is missing, so CI fails); `local`, never Docker.
 */
export type SourceChoice = 'auto' | 'testcontainers' | 'local';
export function sourceChoice(): SourceChoice {
  const value = process.env['TQ_TEST_SOURCE'] ?? '';
  if (value === '' || value === 'auto') return 'auto';
  if (value === 'testcontainers' || value === 'local') return value;
  throw new Error(`TQ_TEST_SOURCE=${value}: expected testcontainers, local or nothing`);
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
  const choice = sourceChoice();
  // One line per broker saying whether Docker was used, and why (not).
  const say = (line: string) => console.info(`[integration] ${name}: ${line}`);
  const fromEnv = process.env[envNames[name]];
  if (fromEnv && choice !== 'testcontainers') {
    say(`Testcontainers not used: ${envNames[name]} is set`);
    return reachable(name, name === 'kafka' ? kafkaUrlFromBrokers(fromEnv) : fromEnv, 'env');
  }

  const docker: DockerStatus = choice === 'local' ? { answers: false, reason: 'TQ_TEST_SOURCE=local' } : await dockerStatus();
  if (docker.answers) {
    try {
      const { url, stop, started } = await startContainer(name);
      say(`Testcontainers: ${started}; ${docker.reason}`);
      return await reachable(name, url, 'testcontainers', stop);
    } catch (error) {
      const why = `Testcontainers failed: ${(error as Error).message}`;
      if (choice === 'testcontainers') {
        say(why);
        return missing(name, `TQ_TEST_SOURCE=testcontainers and ${why}`);
      }
      say(`${why}; ${name === 'kafka' ? 'trying the Kafka mock cluster' : 'trying local ports'}`);
    }
  } else if (choice === 'testcontainers') {
    say(`Testcontainers not used: ${docker.reason}`);
    return missing(name, `TQ_TEST_SOURCE=testcontainers but ${docker.reason}`);
  } else {
    say(`Testcontainers not used: ${docker.reason}`);
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
