import type { AdapterOptions, Broker, ResultBackend, RetryPolicy } from '@tq/core/adapter';

/** Creates a fresh, unconnected broker for `url`. Called once per test (and per extra connection). */
export type BrokerFactory = (url: URL) => Broker;
/** Creates a fresh, unconnected result backend for `url`. Called once per test (and per extra client). */
export type BackendFactory = (url: URL) => ResultBackend;

export interface ConformanceTimeouts {
  /** Longest wait for a message that should arrive. Default 10 000. */
  readonly deliveryMs: number;
  /** How long "nothing arrives" is watched for (prefetch, reject without requeue). Default 500. */
  readonly quietMs: number;
  /**
   * Longest wait for unacked deliveries to come back after a cut. Default: the broker's
   * `redeliveryWindowMs` (if any) + 10 000.
   */
  readonly redeliveryMs?: number;
  /** Longest a publish may take to settle while the broker is unreachable. Default 20 000. */
  readonly outageMs: number;
  /**
   * Longest wait for the deliveries a stopped consumer never read to reach another consumer,
   * the first one's connection still open (a worker's warm shutdown). Default 10 000: well under
   * a redelivery window such as JetStream's AckWait (30 s). Kafka hands them back through a
   * group rebalance and may need more.
   */
  readonly handBackMs: number;
}

export interface ConformanceScale {
  /** Messages in the competing-consumers test. Default 10 000. */
  readonly competingMessages: number;
  /** Consumers (separate connections) in the competing-consumers test. Default 4. */
  readonly competingConsumers: number;
  /** Queues in the many-queues test. Default 1 000. */
  readonly queues: number;
  /** Size of the large-body test, capped at capabilities.maxMessageBytes. Default 1 MiB. */
  readonly largeBodyBytes: number;
}

/**
 * The liveness group: a broker that goes silent (half-open connection) must be noticed within a
 * bound. The kit cannot wait the adapter's default bound (up to 30 s) in every test, so the
 * adapter names the URL parameters that shorten its liveness timeouts.
 */
export interface ConformanceLiveness {
  /** Query parameters added to the broker URL in the liveness tests (e.g. { socket_timeout: '1' }). Default none. */
  readonly query?: Readonly<Record<string, string>>;
  /**
   * Longest a silent connection may go unnoticed with those parameters: a publish on it rejects,
   * a consumer opens a new connection, close() returns, within this. Default 30 000 (tq's
   * documented bound with default options).
   */
  readonly detectionMs?: number;
}

export interface ConformanceOptions {
  /** Broker URL the kit connects to, e.g. 'redis://127.0.0.1:6379/15'. */
  readonly url: string;
  /** Result backend URL for describeAdapter's backend and app suites. Default: `url`. */
  readonly resultBackendUrl?: string;
  /** Passed to the adapter's createBroker/createResultBackend (TLS material, client options…). */
  readonly adapterOptions?: AdapterOptions;
  /**
   * Restart the broker server (data kept), resolving once it accepts connections again.
   * When absent, the restart test simulates one with the fault proxy (all connections cut,
   * new ones refused for a moment).
   */
  readonly restartBroker?: () => Promise<void>;
  /**
   * Kill `broker`'s connections abruptly, as a crashed host would (no close handshake).
   * `broker` is the adapter's own instance (unwrapped). When absent, the kit puts the broker
   * behind its FaultProxy and resets the TCP connections itself (see `proxyUrl`).
   */
  readonly cutConnection?: (broker: Broker) => Promise<void>;
  /**
   * Maps the real broker URL to one that goes through the kit's FaultProxy on `proxyPort`.
   * Default: same URL with host 127.0.0.1 and port `proxyPort` (fine for redis, amqp, nats
   * with one host and no TLS hostname check). `false` disables proxy-based fault tests
   * (they are then skipped unless the hooks above are given).
   */
  readonly proxyUrl?: ((target: URL, proxyPort: number) => URL) | false;
  /** The liveness group's parameters; `false` skips the group (it also needs the fault proxy). */
  readonly liveness?: ConformanceLiveness | false;
  /** Where `reject(false)` puts messages when capabilities.deadLetter. Default `${queue}.dead`. */
  readonly deadLetterQueue?: (queue: string) => string;
  /**
   * Remove queues the kit created (called after each test with the names it used, dead-letter
   * queues included). The broker contract has no delete, so adapters whose queues outlive
   * their consumers (AMQP, streams, topics) supply this to keep the broker clean.
   */
  readonly deleteQueues?: (queues: readonly string[]) => Promise<void>;
  /** Prefix of every queue name the kit makes. Default 'tqc'. */
  readonly queuePrefix?: string;
  /** Retry policy the kit's RuntimeBroker/RuntimeBackend use. Default: 3 retries from 100 ms. */
  readonly retry?: RetryPolicy;
  /**
   * Opens a transaction in the adapter's own terms (e.g. a pg client after BEGIN), for the
   * transactional publish group. Required when the broker declares `transactionalPublish`.
   */
  readonly transactions?: () => Promise<KitTransaction>;
  readonly timeouts?: Partial<ConformanceTimeouts>;
  readonly scale?: Partial<ConformanceScale>;
}

/** One open transaction: what publishInTransaction receives, and how to end it. */
export interface KitTransaction {
  readonly transaction: unknown;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

export interface ResolvedConformanceOptions {
  readonly url: URL;
  readonly resultBackendUrl: URL;
  readonly adapterOptions: AdapterOptions;
  readonly restartBroker: (() => Promise<void>) | undefined;
  readonly cutConnection: ((broker: Broker) => Promise<void>) | undefined;
  readonly proxyUrl: ((target: URL, proxyPort: number) => URL) | undefined;
  readonly deadLetterQueue: (queue: string) => string;
  readonly liveness: Required<ConformanceLiveness> | undefined;
  readonly deleteQueues: ((queues: readonly string[]) => Promise<void>) | undefined;
  readonly queuePrefix: string;
  readonly retry: RetryPolicy;
  readonly transactions: (() => Promise<KitTransaction>) | undefined;
  readonly timeouts: ConformanceTimeouts;
  readonly scale: ConformanceScale;
}

/** Default ports of the URL schemes the first-party adapters use, for the proxy's target. */
const defaultPorts: Readonly<Record<string, number>> = {
  redis: 6379,
  rediss: 6379,
  amqp: 5672,
  amqps: 5671,
  nats: 4222,
  tls: 4222,
  kafka: 9092,
  postgres: 5432,
  postgresql: 5432,
  mysql: 3306,
  mariadb: 3306,
};

/** host:port the proxy forwards to, or undefined when the URL has none (memory://). */
export function proxyTarget(url: URL): { host: string; port: number } | undefined {
  const scheme = url.protocol.replace(/:$/, '');
  const port = url.port ? Number(url.port) : defaultPorts[scheme];
  if (!url.hostname || port === undefined) return undefined;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

function viaProxy(target: URL, proxyPort: number): URL {
  const proxied = new URL(target.href);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxyPort);
  return proxied;
}

export function resolveOptions(options: ConformanceOptions): ResolvedConformanceOptions {
  const url = new URL(options.url);
  return {
    url,
    resultBackendUrl: new URL(options.resultBackendUrl ?? options.url),
    adapterOptions: options.adapterOptions ?? {},
    restartBroker: options.restartBroker,
    cutConnection: options.cutConnection,
    proxyUrl: options.proxyUrl === false ? undefined : (options.proxyUrl ?? (proxyTarget(url) ? viaProxy : undefined)),
    deadLetterQueue: options.deadLetterQueue ?? ((queue) => `${queue}.dead`),
    liveness: options.liveness === false ? undefined : { query: {}, detectionMs: 30_000, ...options.liveness },
    deleteQueues: options.deleteQueues,
    queuePrefix: options.queuePrefix ?? 'tqc',
    retry: options.retry ?? { maxRetries: 3, initialDelayMs: 100, maxDelayMs: 1_000 },
    transactions: options.transactions,
    timeouts: { deliveryMs: 10_000, quietMs: 500, outageMs: 20_000, handBackMs: 10_000, ...options.timeouts },
    scale: { competingMessages: 10_000, competingConsumers: 4, queues: 1_000, largeBodyBytes: 1024 * 1024, ...options.scale },
  };
}
