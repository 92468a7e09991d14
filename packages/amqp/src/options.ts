import { ConfigError, redactUrl, unknownUrlParameters, type AdapterOptions, type ConfigIssue } from '@tq/core/adapter';

/** TLS material for amqps://, passed to Node's tls.connect. PEM strings or Buffers. */
export interface AmqpTlsOptions {
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly passphrase?: string;
  /** SNI and certificate host name; defaults to the URL's host name (unless it is an IP). */
  readonly servername?: string;
  /** Default true. Turning it off accepts any certificate: for local tests only. */
  readonly rejectUnauthorized?: boolean;
}

export type AmqpQueueType = 'classic' | 'quorum';

/**
 * Everything the AMQP adapter reads from its URL and adapter options, after defaults.
 * URL query parameters: heartbeat, confirmTimeout, frameMax, connectTimeout, queueType, maxPriority,
 * deadLetter, deadLetterExchange, resultExpires. Adapter options (`brokerOptions` /
 * `resultBackendOptions`): `tls` (AmqpTlsOptions) and the same names as the query parameters.
 */
export interface AmqpOptions {
  readonly protocol: 'amqp' | 'amqps';
  readonly hostname: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  /** Virtual host, '/' by default; URL path with its leading slash removed, %2F decoded. */
  readonly vhost: string;
  /**
   * Heartbeat interval in seconds (the lower of this and the server's suggestion wins; 0 turns
   * heartbeats off). A connection that receives nothing for two to three intervals is declared
   * dead and reopened: a silent broker is noticed within 3 × heartbeat. Default 10 (30 s bound;
   * RabbitMQ suggests 60, which takes up to 3 minutes).
   */
  readonly heartbeat: number;
  /**
   * Longest a publish may take, from the call to the broker's confirm, ms. A publish not
   * confirmed by then rejects with BrokerConnectionError (core's retry policy decides): the
   * message may still have reached the queue, so a retry may queue it twice (at-least-once).
   * Default 10 000.
   */
  readonly confirmTimeoutMs: number;
  readonly frameMax: number | undefined;
  /** TCP + AMQP handshake timeout, ms. Default 10 000. */
  readonly connectTimeoutMs: number;
  /** 'classic' (default, what Celery declares) or 'quorum' (x-queue-type=quorum, replicated). */
  readonly queueType: AmqpQueueType;
  /**
   * x-max-priority declared on task queues; 0 (default) declares none, exactly as Celery does
   * unless task_queue_max_priority is set. Must match existing queues (else PRECONDITION_FAILED).
   */
  readonly maxPriority: number;
  /**
   * Dead-lettering of rejected messages: null (default, Celery's declaration) = none;
   * '' = through the default exchange to the queue "<queue>.dead" (declared by tq);
   * any other name = that exchange, routing key unchanged (you declare and bind it).
   */
  readonly deadLetterExchange: string | null;
  /** x-expires of rpc:// reply queues, ms. Celery uses result_expires: 1 day. */
  readonly resultExpiresMs: number;
  readonly tls: AmqpTlsOptions | undefined;
}

const integerParams = ['heartbeat', 'confirmTimeout', 'frameMax', 'connectTimeout', 'maxPriority', 'resultExpires'] as const;

/** Every query parameter parseAmqpOptions reads; core rejects any other (TqAdapter.urlParameters). */
export const amqpUrlParameters: readonly string[] = [...integerParams, 'queueType', 'deadLetter', 'deadLetterExchange'];

function readParam(url: URL, options: AdapterOptions, name: string): unknown {
  if (options[name] !== undefined) return options[name];
  const raw = url.searchParams.get(name);
  return raw === null ? undefined : raw;
}

function readInteger(value: unknown, path: string, issues: ConfigIssue[], min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    issues.push({ path, message: `expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}` });
    return undefined;
  }
  return n;
}

function readBoolean(value: unknown, path: string, issues: ConfigIssue[]): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'boolean') return value;
  if (value === '1' || value === 'true' || value === 'yes') return true;
  if (value === '0' || value === 'false' || value === 'no') return false;
  issues.push({ path, message: `expected true or false, got ${JSON.stringify(value)}` });
  return undefined;
}

function readTls(value: unknown, issues: ConfigIssue[]): AmqpTlsOptions | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') {
    issues.push({ path: 'tls', message: 'expected an object with ca, cert, key, passphrase, servername, rejectUnauthorized' });
    return undefined;
  }
  const known = new Set(['ca', 'cert', 'key', 'passphrase', 'servername', 'rejectUnauthorized']);
  for (const key of Object.keys(value)) {
    if (!known.has(key)) issues.push({ path: `tls.${key}`, message: 'unknown TLS option' });
  }
  const tls = value as Record<string, unknown>;
  const isPem = (v: unknown) => typeof v === 'string' || Buffer.isBuffer(v);
  for (const key of ['cert', 'key'] as const) {
    if (tls[key] !== undefined && !isPem(tls[key])) issues.push({ path: `tls.${key}`, message: 'expected a PEM string or Buffer' });
  }
  if (tls.ca !== undefined && !isPem(tls.ca) && !(Array.isArray(tls.ca) && tls.ca.every(isPem))) {
    issues.push({ path: 'tls.ca', message: 'expected a PEM string, a Buffer or an array of them' });
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    issues.push({ path: 'tls', message: 'a client certificate needs both cert and key' });
  }
  for (const key of ['passphrase', 'servername'] as const) {
    if (tls[key] !== undefined && typeof tls[key] !== 'string') issues.push({ path: `tls.${key}`, message: 'expected a string' });
  }
  if (tls.rejectUnauthorized !== undefined && typeof tls.rejectUnauthorized !== 'boolean') {
    issues.push({ path: 'tls.rejectUnauthorized', message: 'expected a boolean' });
  }
  return tls as AmqpTlsOptions;
}

/**
 * URL + adapter options → AmqpOptions. Collects every problem into one ConfigError, whose
 * message shows the URL with its password redacted.
 */
export function parseAmqpOptions(url: URL, options: AdapterOptions = {}): AmqpOptions {
  const issues: ConfigIssue[] = [];
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  let protocol: 'amqp' | 'amqps' = 'amqp';
  if (scheme === 'amqps') protocol = 'amqps';
  else if (scheme !== 'amqp' && scheme !== 'rpc') issues.push({ path: 'url', message: `expected amqp:// or amqps://, got ${redactUrl(url)}` });

  for (const { parameter, message } of unknownUrlParameters(url, amqpUrlParameters)) issues.push({ path: `url?${parameter}`, message });

  const heartbeat = readInteger(readParam(url, options, 'heartbeat'), 'heartbeat', issues, 0, 65_535) ?? 10;
  const confirmTimeoutMs = readInteger(readParam(url, options, 'confirmTimeout'), 'confirmTimeout', issues, 1, 2 ** 31 - 1) ?? 10_000;
  const frameMax = readInteger(readParam(url, options, 'frameMax'), 'frameMax', issues, 4096, 2 ** 31 - 1);
  const connectTimeoutMs = readInteger(readParam(url, options, 'connectTimeout'), 'connectTimeout', issues, 1, 600_000) ?? 10_000;
  // RabbitMQ accepts 1..255 and recommends at most 10; Celery's own scale is 0..9.
  const maxPriority = readInteger(readParam(url, options, 'maxPriority'), 'maxPriority', issues, 0, 255) ?? 0;
  const resultExpiresMs = readInteger(readParam(url, options, 'resultExpires'), 'resultExpires', issues, 1, 2 ** 31 - 1) ?? 86_400_000;

  const rawType = readParam(url, options, 'queueType') ?? 'classic';
  let queueType: AmqpQueueType = 'classic';
  if (rawType === 'classic' || rawType === 'quorum') queueType = rawType;
  else issues.push({ path: 'queueType', message: `expected "classic" or "quorum", got ${JSON.stringify(rawType)}` });
  if (queueType === 'quorum' && maxPriority > 0) {
    issues.push({ path: 'maxPriority', message: 'quorum queues do not support x-max-priority; use classic queues for priorities' });
  }

  let deadLetterExchange: string | null = null;
  const dlx = readParam(url, options, 'deadLetterExchange');
  if (dlx !== undefined) {
    if (typeof dlx === 'string') deadLetterExchange = dlx;
    else issues.push({ path: 'deadLetterExchange', message: 'expected an exchange name' });
  } else if (readBoolean(readParam(url, options, 'deadLetter'), 'deadLetter', issues)) {
    deadLetterExchange = '';
  }

  const tls = readTls(options.tls, issues);
  if (tls && protocol !== 'amqps') issues.push({ path: 'tls', message: 'TLS options need an amqps:// URL' });

  let vhost = '/';
  if (url.pathname.length > 1) {
    try {
      vhost = decodeURIComponent(url.pathname.slice(1));
    } catch {
      issues.push({ path: 'url', message: 'the virtual host in the URL path is not valid percent-encoding' });
    }
  }
  const port = url.port ? Number(url.port) : protocol === 'amqps' ? 5671 : 5672;

  if (issues.length > 0) throw new ConfigError(issues.map((i) => ({ ...i, message: `${i.message} (in ${redactUrl(url)})` })));

  return {
    protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port,
    // Missing credentials default to guest/guest, as amqplib and py-amqp do.
    username: url.username || url.password ? decodeURIComponent(url.username) : 'guest',
    password: url.username || url.password ? decodeURIComponent(url.password) : 'guest',
    vhost,
    heartbeat,
    confirmTimeoutMs,
    frameMax,
    connectTimeoutMs,
    queueType,
    maxPriority,
    deadLetterExchange,
    resultExpiresMs,
    tls,
  };
}

/** The connection URL printable in logs and errors: no password, no query. */
export function describeEndpoint(options: AmqpOptions): string {
  const vhost = options.vhost === '/' ? '' : encodeURIComponent(options.vhost);
  return `${options.protocol}://${options.username}@${options.hostname}:${options.port}/${vhost}`;
}
