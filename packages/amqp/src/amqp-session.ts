import { randomBytes } from 'node:crypto';
import { connect as amqpConnect, type ChannelModel } from 'amqplib';
import { BrokerConnectionError, ClosedError } from '@tq/core/adapter';
import { toTqError } from './errors.js';
import { describeEndpoint, type AmqpOptions, type AmqpTlsOptions } from './options.js';

const reconnectInitialDelayMs = 100;
const reconnectMaxDelayMs = 5_000;

/** AmqpTlsOptions → the tls.connect options amqplib passes through (its types want mutable arrays). */
export function tlsSocketOptions(tls: AmqpTlsOptions): Record<string, unknown> {
  const { ca, ...rest } = tls;
  return { ...rest, ...(ca !== undefined ? { ca: Array.isArray(ca) ? [...(ca as readonly (string | Buffer)[])] : ca } : {}) };
}

/**
 * One AMQP connection that heals itself: after an unexpected close it reconnects with
 * exponential backoff (100 ms → 5 s, jittered) until close() is called. Channels die with
 * their connection; their owners (publisher, consumers) wait on `whenOpen()` and rebuild
 * their channels and declarations on the new connection (topology recovery).
 */
export class AmqpSession {
  readonly endpoint: string;
  /** What RabbitMQ shows for this connection (management UI, rabbitmqctl list_connections user_provided_name). */
  readonly connectionName: string;
  readonly #options: AmqpOptions;
  readonly #label: string;
  readonly #backend: boolean;
  #connection: ChannelModel | undefined;
  #waiters: { resolve: (c: ChannelModel) => void; reject: (e: unknown) => void; patient: boolean }[] = [];
  #reconnectTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #everConnected = false;
  #closed = false;
  #lastError: unknown;

  constructor(options: AmqpOptions, label: string, role: { backend?: boolean } = {}) {
    this.#options = options;
    this.#label = label;
    this.#backend = role.backend ?? false;
    this.endpoint = describeEndpoint(options);
    this.connectionName = `tq ${label} ${process.pid}/${randomBytes(4).toString('hex')}`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The live connection, if any. */
  get connection(): ChannelModel | undefined {
    return this.#connection;
  }

  /** First connection: fails fast (core's guard retries); reconnection is automatic afterwards. */
  async connect(signal?: AbortSignal): Promise<void> {
    if (this.#closed) throw new ClosedError(this.#label);
    if (this.#connection) return;
    signal?.throwIfAborted();
    const connection = await this.#open();
    if (this.#closed) {
      await closeConnection(connection);
      throw new ClosedError(this.#label);
    }
    this.#everConnected = true;
    this.#adopt(connection);
  }

  /**
   * The live connection, waiting for a reconnect in progress. With `timeoutMs` (publishers):
   * rejects with BrokerConnectionError when a reconnect attempt fails or after `timeoutMs`,
   * so a caller fails fast while the broker is unreachable and core's retry policy decides.
   * Without (consumers): waits for however many attempts it takes. Rejects with ClosedError
   * once the session is closed.
   */
  whenOpen(timeoutMs?: number): Promise<ChannelModel> {
    if (this.#closed) return Promise.reject(new ClosedError(this.#label));
    if (this.#connection) return Promise.resolve(this.#connection);
    if (!this.#everConnected) return Promise.reject(new BrokerConnectionError(`${this.#label} is not connected to ${this.endpoint}`, { backend: this.#backend }));
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        resolve: (c: ChannelModel) => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
        patient: timeoutMs === undefined,
      };
      this.#waiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          const reason = this.#lastError instanceof Error ? `: ${toTqError(this.#lastError, this.endpoint, 'reconnect').message}` : '';
          reject(new BrokerConnectionError(`${this.#label}: connection to ${this.endpoint} lost, not back within ${timeoutMs} ms${reason}`, { backend: this.#backend }));
        }, timeoutMs);
      }
    });
  }

  async #open(): Promise<ChannelModel> {
    const o = this.#options;
    try {
      return await amqpConnect(
        {
          protocol: o.protocol,
          hostname: o.hostname,
          port: o.port,
          username: o.username,
          password: o.password,
          vhost: o.vhost,
          heartbeat: o.heartbeat,
          ...(o.frameMax !== undefined ? { frameMax: o.frameMax } : {}),
        },
        {
          timeout: o.connectTimeoutMs,
          noDelay: true,
          clientProperties: { connection_name: this.connectionName },
          ...(o.tls ? tlsSocketOptions(o.tls) : {}),
        },
      );
    } catch (error) {
      throw toTqError(error, this.endpoint, `${this.#label}: connect`, { backend: this.#backend });
    }
  }

  #adopt(connection: ChannelModel): void {
    this.#connection = connection;
    this.#attempt = 0;
    // Without an 'error' listener a socket error would crash the process; 'close' follows it.
    connection.on('error', (error: unknown) => {
      this.#lastError = error;
    });
    connection.on('close', (error?: unknown) => {
      if (this.#connection !== connection) return;
      this.#connection = undefined;
      if (error) this.#lastError = error;
      if (!this.#closed) this.#scheduleReconnect();
    });
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve(connection);
  }

  #scheduleReconnect(): void {
    const base = Math.min(reconnectMaxDelayMs, reconnectInitialDelayMs * 2 ** this.#attempt);
    const delay = base * (0.8 + Math.random() * 0.2);
    this.#attempt++;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.#open().then(
        async (connection) => {
          if (this.#closed) await closeConnection(connection);
          else this.#adopt(connection);
        },
        (error: unknown) => {
          this.#lastError = error;
          if (this.#closed) return;
          const impatient = this.#waiters.filter((w) => !w.patient);
          this.#waiters = this.#waiters.filter((w) => w.patient);
          const failure = toTqError(error, this.endpoint, `${this.#label}: reconnect`, { backend: this.#backend });
          for (const waiter of impatient) waiter.reject(failure);
          this.#scheduleReconnect();
        },
      );
    }, delay);
  }

  /** Stops reconnecting and closes the connection; unacked deliveries return to their queues. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(new ClosedError(this.#label));
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) await closeConnection(connection);
  }
}

const closeTimeoutMs = 5_000;

/**
 * amqplib's close() waits for the server's close-ok, which never comes when the socket dies
 * during the handshake or the broker went silent: also settle on the connection's 'close'
 * event, or after 5 s. Then the socket is destroyed: a half-open one would otherwise linger,
 * and with it (through a proxy or load balancer) the broker's view of the connection, holding
 * its unacked deliveries until the broker's own heartbeat gives up.
 */
async function closeConnection(connection: ChannelModel): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    connection.close().catch(() => undefined),
    new Promise<void>((resolve) => connection.once('close', () => resolve())),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, closeTimeoutMs);
    }),
  ]);
  clearTimeout(timer);
  (connection as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.();
}
