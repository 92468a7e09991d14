/**
 * The brokers the fault suite runs on, in one table: the adapter, the URL parameters that make
 * faults show within seconds (short redelivery windows and liveness timeouts; connect timeouts
 * of 5 s, as the brokers run side by side on a loaded 2-core CI machine), how a connection is cut (a FaultProxy in front of the broker, or the
 * adapter's own sockets for Kafka, whose clients learn broker addresses from metadata and would
 * bypass a proxy), and what to delete afterwards. Every scenario runs on each row.
 */
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import amqpAdapter from '@tq/amqp';
import type { TqAdapter } from '@tq/core/adapter';
import kafkaAdapter from '@tq/kafka';
import natsAdapter from '@tq/nats';
import postgresAdapter from '@tq/postgres';
import redisAdapter from '@tq/redis';
import { Redis } from 'ioredis';
import pg from 'pg';
import { deleteAmqpQueues } from '../../harness/amqp-cleanup.js';
import { resolveBroker, type BrokerEndpoint, type BrokerName } from '../../harness/brokers.js';

export type FaultBrokerName = Exclude<BrokerName, 'mysql'>;

export interface FaultBroker {
  readonly name: FaultBrokerName;
  readonly adapter: TqAdapter;
  readonly endpoint: BrokerEndpoint;
  /** `base` (the shared endpoint's URL or a private server's) with this run's parameters. */
  tune(base: string): string;
  /** Connections are cut through a FaultProxy; false: through the adapter's sockets (Kafka). */
  readonly proxied: boolean;
  /** How long an unacked delivery of a dead consumer stays away (lease, AckWait, session). */
  readonly redeliveryMs: number;
  /** The bound within which a silent connection is noticed with these parameters. */
  readonly detectionBoundMs: number;
  /** Deletes what a scenario's queue left on the shared broker. */
  dropQueue(url: string, queue: string): Promise<void>;
  /** Deletes what the whole run left on the shared broker. */
  dropAll(url: string): Promise<void>;
}

const run = randomBytes(4).toString('hex');
const nothing = async (): Promise<void> => undefined;

function withParams(base: string, params: Record<string, string>): string {
  const url = new URL(base);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.href;
}

const redisPrefix = `tqf-${run}:`;
const natsStream = `TQF${run.toUpperCase()}`;
const postgresSchema = `tqf_${run}`;

type Row = Omit<FaultBroker, 'endpoint'>;

const rows: Readonly<Record<FaultBrokerName, Row>> = {
  redis: {
    name: 'redis',
    adapter: redisAdapter,
    tune: (base) => withParams(base, { global_keyprefix: redisPrefix, visibility_timeout: '2', socket_timeout: '1' }),
    proxied: true,
    redeliveryMs: 2_000,
    detectionBoundMs: 7_000,
    dropQueue: nothing,
    dropAll: async (url) => {
      const client = new Redis(url);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await client.del(...keys);
        } while (cursor !== '0');
      } finally {
        client.disconnect();
      }
    },
  },
  amqp: {
    name: 'amqp',
    adapter: amqpAdapter,
    tune: (base) => withParams(base, { heartbeat: '1', confirmTimeout: '3000', connectTimeout: '5000' }),
    proxied: true,
    // A dead consumer's channel closes with its connection: its deliveries come back at once.
    redeliveryMs: 0,
    detectionBoundMs: 4_000,
    dropQueue: (url, queue) => deleteAmqpQueues(url, [queue, `${queue}.dead`]),
    dropAll: nothing,
  },
  nats: {
    name: 'nats',
    adapter: natsAdapter,
    tune: (base) =>
      withParams(base, { stream: natsStream, ackWaitMs: '3000', pullExpiresMs: '1000', pingIntervalMs: '1000', maxPingOut: '2', connectTimeoutMs: '5000' }),
    proxied: true,
    redeliveryMs: 3_000,
    detectionBoundMs: 6_000,
    dropQueue: nothing,
    dropAll: async (url) => {
      const nc = await natsConnect({ servers: new URL(url).host });
      try {
        const jsm = await jetstreamManager(nc);
        for (const name of [natsStream, `${natsStream}_DLQ`]) await jsm.streams.delete(name).catch(() => undefined);
      } finally {
        await nc.close();
      }
    },
  },
  kafka: {
    name: 'kafka',
    adapter: kafkaAdapter,
    tune: (base) => withParams(base, { sessionTimeoutMs: '6000', heartbeatIntervalMs: '500', maxWaitTimeMs: '50' }),
    proxied: false,
    redeliveryMs: 6_000,
    detectionBoundMs: 6_000,
    dropQueue: nothing,
    dropAll: nothing,
  },
  postgres: {
    name: 'postgres',
    adapter: postgresAdapter,
    tune: (base) =>
      withParams(base, { schema: postgresSchema, lease_ms: '2000', query_timeout_ms: '3000', connect_timeout_ms: '5000', ping_interval_ms: '1000', poll_interval_ms: '1000' }),
    proxied: true,
    redeliveryMs: 2_000,
    detectionBoundMs: 8_000,
    dropQueue: nothing,
    dropAll: async (url) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${postgresSchema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  },
};

/** The rows for `names`, each with its endpoint (see harness/brokers.ts). Stop the endpoints in afterAll. */
export async function faultBrokers(names: readonly FaultBrokerName[]): Promise<FaultBroker[]> {
  const out: FaultBroker[] = [];
  for (const name of names) {
    const endpoint = await resolveBroker(name);
    // The mock cluster has no idempotent producer (see conformance-kafka.test.ts).
    const row = rows[name];
    const tune = name === 'kafka' && endpoint.source === 'kafka-mock' ? (base: string) => withParams(row.tune(base), { idempotent: 'false' }) : row.tune;
    out.push({ ...row, tune, endpoint });
  }
  return out;
}
