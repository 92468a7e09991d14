import type { ConnectionOptions } from 'node:tls';
import { ConfigError, redactUrl, unknownUrlParameters, type AdapterOptions, type ConfigIssue, type Logger } from '@tq/core/adapter';
import type { ISocketFactory, SASLOptions } from 'kafkajs';

export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';
const saslMechanisms: readonly KafkaSaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512'];

/** Creates `topic` with `partitions` partitions when the cluster has no CreateTopics API (librdkafka's mock). */
export type TopicCreator = (topic: string, partitions: number) => Promise<void>;

/**
 * Everything the Kafka adapter reads, after defaults. From the URL
 * `kafka[+ssl]://[user:password@]host:port[?brokers=h2:p2,h3:p3&clientId=…&partitions=…&sasl=…]`
 * and from `brokerOptions` (which win over the URL).
 */
export interface KafkaOptions {
  /** Bootstrap servers, host:port. From the URL host plus `?brokers=`; `brokerOptions.brokers` replaces them. */
  readonly brokers: readonly string[];
  /** Where kafkajs's own log lines go (redacted): the app's logger when core passes one, else stderr. */
  readonly logger?: Logger;
  /** kafkajs clientId, seen in broker logs and quotas. Default 'tq'. */
  readonly clientId: string;
  /** Partitions of the topics tq creates. Default 1 (the only count that keeps a queue FIFO). */
  readonly partitions: number;
  /** Replication factor of the topics tq creates; -1 = the cluster's default. Default -1. */
  readonly replicationFactor: number;
  /** Consumer group of queue `q` is `${groupIdPrefix}${q}`. Default 'tq.'. */
  readonly groupIdPrefix: string;
  /** Idempotent producer (acks=all, one request in flight, no duplicates on retry). Default true. */
  readonly idempotent: boolean;
  /**
   * How topics come to exist: 'admin' creates them with CreateTopics (partitions, replication);
   * 'auto' leaves it to the cluster's auto.create.topics.enable (its num.partitions applies);
   * 'none' expects them to exist. Default 'admin'.
   */
  readonly topicCreation: 'admin' | 'auto' | 'none';
  /** Overrides topic creation (e.g. the mock cluster launcher's createTopic). */
  readonly createTopic: TopicCreator | undefined;
  /** Dead-letter topic of topic `t` is `${t}${deadLetterSuffix}`. Default '.dead'. */
  readonly deadLetterSuffix: string;
  /** Largest body accepted, bytes. Default 1 000 000 (Kafka's message.max.bytes is 1 048 588, headers included). */
  readonly maxMessageBytes: number;
  /** TLS: true for system CAs, or node:tls options (ca, cert, key, servername…). Default false; true for kafka+ssl://. */
  readonly ssl: boolean | ConnectionOptions;
  readonly sasl: SASLOptions | undefined;
  /** kafkajs socketFactory (brokerOptions only): proxies, custom sockets, fault injection in tests. */
  readonly socketFactory: ISocketFactory | undefined;
  /** Consumer session timeout, ms. A consumer silent this long loses its partitions. Default 30 000. */
  readonly sessionTimeoutMs: number;
  /** Heartbeat interval, ms. Default 3 000. */
  readonly heartbeatIntervalMs: number;
  /** Longest a fetch waits for data, ms (latency vs. requests). Default 100. */
  readonly maxWaitTimeMs: number;
  /** TCP connect timeout, ms. Default 3 000. */
  readonly connectionTimeoutMs: number;
  /**
   * kafkajs request timeout, ms. Also the liveness bound: a publish rejects with
   * BrokerConnectionError after this long in all, and a connection that received nothing for
   * this long after a request is dropped and reopened (a half-open connection or a frozen
   * broker). Default 30 000.
   */
  readonly requestTimeoutMs: number;
  /**
   * Settlements are committed at most this long after they happen, many per request. A crash
   * inside the window redelivers those messages (at-least-once). Default 50.
   */
  readonly commitIntervalMs: number;
  /** Longest a publish batch lingers to coalesce concurrent publishes, ms. Default 0 (one event-loop turn). */
  readonly lingerMs: number;
  /**
   * Durable delays through the delay topics "tq.delay.<ms>", forwarded by each queue's consumers
   * (delay-topics.ts); declares capabilities.delayedDelivery. Default true. false: the worker
   * holds ETA/countdown tasks in memory until due, as on a broker without delayed delivery.
   */
  readonly delayTopics: boolean;
}

const defaults = {
  clientId: 'tq',
  partitions: 1,
  replicationFactor: -1,
  groupIdPrefix: 'tq.',
  idempotent: true,
  topicCreation: 'admin',
  deadLetterSuffix: '.dead',
  maxMessageBytes: 1_000_000,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  maxWaitTimeMs: 100,
  connectionTimeoutMs: 3_000,
  requestTimeoutMs: 30_000,
  lingerMs: 0,
  commitIntervalMs: 50,
  delayTopics: true,
} as const;

type NumberKey =
  | 'partitions'
  | 'replicationFactor'
  | 'maxMessageBytes'
  | 'sessionTimeoutMs'
  | 'heartbeatIntervalMs'
  | 'maxWaitTimeMs'
  | 'connectionTimeoutMs'
  | 'requestTimeoutMs'
  | 'lingerMs'
  | 'commitIntervalMs';
const numberKeys: readonly NumberKey[] = [
  'partitions',
  'replicationFactor',
  'maxMessageBytes',
  'sessionTimeoutMs',
  'heartbeatIntervalMs',
  'maxWaitTimeMs',
  'connectionTimeoutMs',
  'requestTimeoutMs',
  'lingerMs',
  'commitIntervalMs',
];
/** Every query parameter parseKafkaOptions reads; core rejects any other (TqAdapter.urlParameters). */
export const kafkaUrlParameters: readonly string[] = [
  ...numberKeys,
  'brokers',
  'clientId',
  'groupIdPrefix',
  'idempotent',
  'delayTopics',
  'topicCreation',
  'deadLetterSuffix',
  'sasl',
  'ssl',
];

/**
 * URL + brokerOptions → KafkaOptions, reporting every problem in one ConfigError.
 * Credentials never appear in messages: the URL is printed through redactUrl.
 */
export function parseKafkaOptions(url: URL, adapterOptions: AdapterOptions = {}): KafkaOptions {
  const issues: ConfigIssue[] = [];
  const where = redactUrl(url);
  const issue = (path: string, message: string) => issues.push({ path, message: `${message} (in ${where})` });
  const params = url.searchParams;
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  if (scheme !== 'kafka' && scheme !== 'kafka+ssl') issue('broker', `scheme must be kafka:// or kafka+ssl://, got ${scheme}://`);
  for (const { parameter, message } of unknownUrlParameters(url, kafkaUrlParameters)) issue(`broker.${parameter}`, message);

  const pick = (key: string): unknown => (adapterOptions[key] !== undefined ? adapterOptions[key] : (params.get(key) ?? undefined));

  // Brokers: URL host, plus ?brokers=, unless brokerOptions.brokers lists them all.
  let brokers: string[] = [];
  if (Array.isArray(adapterOptions.brokers)) {
    brokers = adapterOptions.brokers.map(String);
  } else {
    if (url.hostname) brokers.push(`${url.hostname}:${url.port || '9092'}`);
    const extra = params.get('brokers');
    if (extra) brokers.push(...extra.split(',').map((b) => b.trim()).filter(Boolean));
    // kafka://a,b,c:9092 parses as one host "a,b,c" with one port: give each host that port.
    brokers = brokers.flatMap((b) => expandCommaHosts(b));
  }
  if (brokers.length === 0) issue('broker.brokers', 'no bootstrap broker: put host:port in the URL');
  for (const broker of brokers) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:,/[\]]+):\d{1,5}$/.test(broker)) issue('broker.brokers', `"${broker}" is not host:port`);
  }

  const numbers = {} as Record<NumberKey, number>;
  for (const key of numberKeys) {
    const raw = pick(key);
    const value = raw === undefined ? defaults[key] : Number(raw);
    if (!Number.isInteger(value)) issue(`broker.${key}`, `must be an integer, got ${JSON.stringify(raw)}`);
    numbers[key] = value;
  }
  if (numbers.partitions < 1) issue('broker.partitions', 'must be >= 1');
  if (numbers.replicationFactor === 0 || numbers.replicationFactor < -1) issue('broker.replicationFactor', 'must be >= 1, or -1 for the cluster default');
  for (const key of ['maxMessageBytes', 'sessionTimeoutMs', 'heartbeatIntervalMs', 'connectionTimeoutMs', 'requestTimeoutMs'] as const) {
    if (numbers[key] < 1) issue(`broker.${key}`, 'must be >= 1');
  }
  for (const key of ['maxWaitTimeMs', 'lingerMs', 'commitIntervalMs'] as const) {
    if (numbers[key] < 0) issue(`broker.${key}`, 'must be >= 0');
  }
  if (numbers.heartbeatIntervalMs >= numbers.sessionTimeoutMs) issue('broker.heartbeatIntervalMs', 'must be below sessionTimeoutMs');

  const strings = (key: 'clientId' | 'groupIdPrefix' | 'deadLetterSuffix'): string => {
    const raw = pick(key);
    if (raw === undefined) return defaults[key];
    if (typeof raw !== 'string') issue(`broker.${key}`, 'must be a string');
    return String(raw);
  };
  const clientId = strings('clientId');
  const groupIdPrefix = strings('groupIdPrefix');
  const deadLetterSuffix = strings('deadLetterSuffix');
  if (!deadLetterSuffix) issue('broker.deadLetterSuffix', 'must not be empty');

  const idempotent = parseBoolean(pick('idempotent'), defaults.idempotent, (m) => issue('broker.idempotent', m));
  const delayTopics = parseBoolean(pick('delayTopics'), defaults.delayTopics, (m) => issue('broker.delayTopics', m));

  const topicCreation = (pick('topicCreation') ?? defaults.topicCreation) as KafkaOptions['topicCreation'];
  if (!['admin', 'auto', 'none'].includes(topicCreation)) issue('broker.topicCreation', `must be admin, auto or none, got ${JSON.stringify(topicCreation)}`);
  const socketFactory = adapterOptions.socketFactory;
  if (socketFactory !== undefined && typeof socketFactory !== 'function') issue('broker.socketFactory', 'must be a kafkajs socketFactory function');
  const createTopic = adapterOptions.createTopic;
  if (createTopic !== undefined && typeof createTopic !== 'function') issue('broker.createTopic', 'must be a function (topic, partitions) => Promise<void>');

  // TLS: kafka+ssl:// turns it on; brokerOptions.ssl may carry node:tls options.
  let ssl: boolean | ConnectionOptions = scheme === 'kafka+ssl';
  const sslOption = adapterOptions.ssl ?? params.get('ssl') ?? undefined;
  if (typeof sslOption === 'object' && sslOption !== null) ssl = sslOption as ConnectionOptions;
  else if (sslOption !== undefined) ssl = parseBoolean(sslOption, ssl === true, (m) => issue('broker.ssl', m));

  const sasl = parseSasl(url, adapterOptions, issue);

  if (issues.length > 0) throw new ConfigError(issues);
  return {
    brokers,
    ...(isLogger(adapterOptions['logger']) ? { logger: adapterOptions['logger'] } : {}),
    clientId,
    groupIdPrefix,
    idempotent,
    delayTopics,
    topicCreation,
    createTopic: createTopic as TopicCreator | undefined,
    socketFactory: socketFactory as ISocketFactory | undefined,
    deadLetterSuffix,
    ssl,
    sasl,
    ...numbers,
  };
}

function expandCommaHosts(broker: string): string[] {
  const match = /^([^[\]]+):(\d+)$/.exec(broker);
  if (!match || !match[1]!.includes(',')) return [broker];
  return match[1]!.split(',').map((host) => `${host}:${match[2]}`);
}

function parseBoolean(raw: unknown, fallback: boolean, onError: (message: string) => void): boolean {
  if (raw === undefined) return fallback;
  if (typeof raw === 'boolean') return raw;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  onError(`must be true or false, got ${JSON.stringify(raw)}`);
  return fallback;
}

/**
 * SASL from the URL's user:password (mechanism from ?sasl=, default plain) or from
 * brokerOptions.sasl (any kafkajs mechanism object, e.g. oauthbearer).
 */
function parseSasl(url: URL, adapterOptions: AdapterOptions, issue: (path: string, message: string) => void): SASLOptions | undefined {
  if (adapterOptions.sasl !== undefined) {
    const sasl = adapterOptions.sasl as { mechanism?: unknown } | null;
    if (typeof sasl !== 'object' || sasl === null || typeof sasl.mechanism !== 'string') {
      issue('broker.sasl', 'must be a kafkajs SASL object with a mechanism');
      return undefined;
    }
    return adapterOptions.sasl as SASLOptions;
  }
  const mechanismParam = url.searchParams.get('sasl');
  const username = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  if (!username && !password) {
    if (mechanismParam) issue('broker.sasl', `sasl=${mechanismParam} needs user:password in the URL (or brokerOptions.sasl)`);
    return undefined;
  }
  const mechanism = (mechanismParam ?? 'plain').toLowerCase() as KafkaSaslMechanism;
  if (!saslMechanisms.includes(mechanism)) {
    issue('broker.sasl', `mechanism must be one of ${saslMechanisms.join(', ')} in the URL (others through brokerOptions.sasl), got ${JSON.stringify(mechanismParam)}`);
    return undefined;
  }
  if (!username) issue('broker.sasl', 'SASL needs a user name');
  if (!password) issue('broker.sasl', 'SASL needs a password');
  return { mechanism, username, password };
}

function isLogger(value: unknown): value is Logger {
  return typeof value === 'object' && value !== null && typeof (value as Logger).error === 'function' && typeof (value as Logger).warn === 'function';
}

/**
 * A kafka:// URL may name several bootstrap brokers ('kafka://a:9092,b:9093'), which the WHATWG
 * parser rejects: the first goes in the host, the rest join ?brokers=.
 */
export function parseKafkaUrl(raw: string): URL {
  const match = /^(kafka(?:\+ssl)?:\/\/)([^/?#]*)(.*)$/i.exec(raw.trim());
  if (!match) return new URL(raw);
  const [, scheme, authority, rest] = match as unknown as [string, string, string, string];
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const [first, ...others] = authority.slice(at + 1).split(',').map((h) => h.trim()).filter(Boolean);
  const url = new URL(`${scheme}${userinfo}${first ?? ''}${rest}`);
  if (others.length) {
    const existing = url.searchParams.get('brokers');
    url.searchParams.set('brokers', [...others, ...(existing ? [existing] : [])].join(','));
  }
  return url;
}
