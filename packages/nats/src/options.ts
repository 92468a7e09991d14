import type { AdapterOptions, ConfigIssue } from '@tq/core/adapter';
import { ConfigError, redactUrl, unknownUrlParameters } from '@tq/core/adapter';
import { streamNamePattern } from './subjects.js';

/** TLS material: file paths (URL or options) or PEM contents (options only). */
export interface NatsTlsOptions {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** How to authenticate; at most one of token / user+pass / nkeySeed / credsFile. */
export interface NatsAuth {
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** An nkey seed ("SU…"); the server knows the public key. */
  readonly nkeySeed?: string;
  /** Path to a .creds file (JWT + nkey seed), for operator-mode servers. */
  readonly credsFile?: string;
}

/** What every NATS connection tq opens needs, broker or result backend. */
/** How long a silent server may go unnoticed: (maxPingOut + 1) × pingIntervalMs. */
export function livenessBoundMs(settings: NatsConnectionSettings): number {
  return (settings.maxPingOut + 1) * settings.pingIntervalMs;
}

export interface NatsConnectionSettings {
  /** host:port entries; the first from the URL authority, more from `?servers=`. */
  readonly servers: readonly string[];
  /** undefined = plain TCP (unless the server demands TLS). */
  readonly tls: NatsTlsOptions | undefined;
  readonly auth: NatsAuth;
  /** Connection name shown by the server's monitoring. Default 'tq'. */
  readonly name: string;
  /**
   * Liveness: the client PINGs the server this often (ms). URL: ?pingIntervalMs=. Default 10 000
   * (nats.js's is 2 minutes).
   */
  readonly pingIntervalMs: number;
  /**
   * PINGs left unanswered before the connection is declared stale and reopened: a silent server
   * is noticed within (maxPingOut + 1) × pingIntervalMs. URL: ?maxPingOut=. Default 2 (30 s bound).
   */
  readonly maxPingOut: number;
  /**
   * Longest one connect (or reconnect) attempt may take, ms: TCP, TLS and the server's INFO.
   * An attempt to a silent server is given up after this and the next one starts. URL:
   * ?connectTimeoutMs=. Default 10 000 (nats.js's is 20 s).
   */
  readonly connectTimeoutMs: number;
  /** The URL with secrets hidden, for messages. */
  readonly redacted: string;
}

export interface NatsBrokerOptions extends NatsConnectionSettings {
  /** Work-queue stream name. Default 'TQ'. */
  readonly stream: string;
  /** Subject prefix of the stream. Default `tq.<stream>`. */
  readonly subjectPrefix: string;
  /** Stream replicas (1, or 3 on a cluster). Default 1. */
  readonly replicas: number;
  /** JetStream AckWait: an unacked delivery is redelivered after this long unless extended. Default 30000. */
  readonly ackWaitMs: number;
  /** Deliveries before a message is dead-lettered. Default 5. */
  readonly maxDeliver: number;
  /** Window in which a repeated Nats-Msg-Id is dropped. Default 120000 (the server's default). */
  readonly duplicateWindowMs: number;
  /** Largest body accepted. Default 1 MiB minus 64 KiB kept for headers (server max_payload is 1 MiB). */
  readonly maxMessageBytes: number;
  /** How long one pull request waits at the server for messages. Default 5000. */
  readonly pullExpiresMs: number;
}

export interface NatsResultBackendOptions extends NatsConnectionSettings {
  /** KV bucket. Default 'tq-results'. */
  readonly bucket: string;
  /** Bucket TTL: no record outlives it, whatever `ttlMs` a store asks for. Default 1 day. */
  readonly bucketTtlMs: number;
  /** Default record TTL when a store gives none. Default 1 day. */
  readonly resultTtlMs: number;
  readonly replicas: number;
}

const brokerParams = new Set(['stream', 'subjectPrefix', 'replicas', 'ackWaitMs', 'maxDeliver', 'duplicateWindowMs', 'maxMessageBytes', 'pullExpiresMs']);
const backendParams = new Set(['bucket', 'bucketTtlMs', 'resultTtlMs', 'replicas']);
const connectionParams = new Set(['servers', 'token', 'nkey', 'creds', 'tlsCa', 'tlsCert', 'tlsKey', 'tls', 'name', 'pingIntervalMs', 'maxPingOut', 'connectTimeoutMs']);

class IssueCollector {
  readonly issues: ConfigIssue[] = [];
  constructor(readonly path: string) {}

  add(param: string, message: string): void {
    this.issues.push({ path: `${this.path}.${param}`, message });
  }

  integer(url: URL, param: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const raw = url.searchParams.get(param);
    if (raw === null) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.add(param, `must be an integer between ${min} and ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  throwIfAny(): void {
    if (this.issues.length > 0) throw new ConfigError(this.issues);
  }
}

/**
 * Every query parameter the NATS adapter reads; core rejects any other (TqAdapter.urlParameters).
 * One URL may serve as broker and result backend: each side ignores the other's parameters.
 */
export const natsUrlParameters: readonly string[] = [...new Set([...connectionParams, ...brokerParams, ...backendParams])];

function connectionSettings(url: URL, options: AdapterOptions, issues: IssueCollector): NatsConnectionSettings {
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme !== 'nats' && scheme !== 'tls') issues.add('scheme', `expected nats:// or tls://, got ${scheme}://`);
  for (const { parameter, message } of unknownUrlParameters(url, natsUrlParameters)) issues.add(parameter, message);
  const host = url.hostname || '127.0.0.1';
  const servers = [`${host}:${url.port || '4222'}`];
  for (const extra of (url.searchParams.get('servers') ?? '').split(',')) {
    const trimmed = extra.trim();
    if (trimmed) servers.push(trimmed.includes(':') ? trimmed : `${trimmed}:4222`);
  }

  const user = url.username ? decodeURIComponent(url.username) : undefined;
  const pass = url.password ? decodeURIComponent(url.password) : undefined;
  const token = url.searchParams.get('token') ?? (user !== undefined && pass === undefined ? user : undefined);
  const auth: NatsAuth = {
    ...(pass !== undefined ? { user, pass } : {}),
    ...(token !== null && token !== undefined ? { token } : {}),
    ...(url.searchParams.has('nkey') ? { nkeySeed: url.searchParams.get('nkey')! } : {}),
    ...(url.searchParams.has('creds') ? { credsFile: url.searchParams.get('creds')! } : {}),
  };
  const methods = ['pass', 'token', 'nkeySeed', 'credsFile'].filter((k) => k in auth);
  if (methods.length > 1) issues.add('auth', `choose one authentication method, got ${methods.join(' + ')}`);

  const fromOptions = (options.tls ?? undefined) as NatsTlsOptions | undefined;
  const fromUrl: NatsTlsOptions = {
    ...(url.searchParams.has('tlsCa') ? { caFile: url.searchParams.get('tlsCa')! } : {}),
    ...(url.searchParams.has('tlsCert') ? { certFile: url.searchParams.get('tlsCert')! } : {}),
    ...(url.searchParams.has('tlsKey') ? { keyFile: url.searchParams.get('tlsKey')! } : {}),
  };
  const wantsTls = scheme === 'tls' || url.searchParams.get('tls') === 'true' || fromOptions !== undefined || Object.keys(fromUrl).length > 0;
  const tls = wantsTls ? { ...fromUrl, ...fromOptions } : undefined;
  if (tls && (tls.certFile || tls.cert) && !(tls.keyFile || tls.key)) issues.add('tlsKey', 'a client certificate needs its key');

  return {
    servers,
    tls,
    auth,
    name: url.searchParams.get('name') ?? 'tq',
    pingIntervalMs: issues.integer(url, 'pingIntervalMs', 10_000, 100),
    maxPingOut: issues.integer(url, 'maxPingOut', 2, 1, 100),
    connectTimeoutMs: issues.integer(url, 'connectTimeoutMs', 10_000, 100),
    redacted: redactUrl(url),
  };
}

/** Broker URL → options: defaults first, then every problem reported at once. */
export function parseBrokerOptions(url: URL, options: AdapterOptions = {}): NatsBrokerOptions {
  const issues = new IssueCollector('broker');
  const connection = connectionSettings(url, options, issues);
  const stream = url.searchParams.get('stream') ?? 'TQ';
  if (!streamNamePattern.test(stream)) issues.add('stream', `must match ${streamNamePattern}, got "${stream}"`);
  const subjectPrefix = url.searchParams.get('subjectPrefix') ?? `tq.${stream}`;
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(subjectPrefix)) issues.add('subjectPrefix', `must be dot-separated tokens of [A-Za-z0-9_-], got "${subjectPrefix}"`);
  const parsed: NatsBrokerOptions = {
    ...connection,
    stream,
    subjectPrefix,
    replicas: issues.integer(url, 'replicas', 1, 1, 5),
    ackWaitMs: issues.integer(url, 'ackWaitMs', 30_000, 100),
    maxDeliver: issues.integer(url, 'maxDeliver', 5, 1),
    duplicateWindowMs: issues.integer(url, 'duplicateWindowMs', 120_000, 100),
    maxMessageBytes: issues.integer(url, 'maxMessageBytes', 1024 * 1024 - 64 * 1024, 1),
    pullExpiresMs: issues.integer(url, 'pullExpiresMs', 5_000, 1_000),
  };
  issues.throwIfAny();
  return parsed;
}

/** Result backend URL → options. */
export function parseResultBackendOptions(url: URL, options: AdapterOptions = {}): NatsResultBackendOptions {
  const issues = new IssueCollector('resultBackend');
  const connection = connectionSettings(url, options, issues);
  const bucket = url.searchParams.get('bucket') ?? 'tq-results';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(bucket)) issues.add('bucket', `must match [A-Za-z0-9_-]{1,64}, got "${bucket}"`);
  const bucketTtlMs = issues.integer(url, 'bucketTtlMs', 86_400_000, 1_000);
  const parsed: NatsResultBackendOptions = {
    ...connection,
    bucket,
    bucketTtlMs,
    resultTtlMs: issues.integer(url, 'resultTtlMs', Math.min(86_400_000, bucketTtlMs), 1),
    replicas: issues.integer(url, 'replicas', 1, 1, 5),
  };
  issues.throwIfAny();
  return parsed;
}
