/**
 * The memory:// bridge: a `tq worker` on memory:// serves its broker and result backend on a
 * Unix socket, so `tq call`, `tq result` and `tq purge` in other shells on the same machine
 * reach it. Development only: one JSON line per request, no auth beyond file permissions (0600).
 * Consuming stays inside the serving process.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { ResultBackend, ResultBackendCapabilities, StoreOptions, VersionedValue } from '../backend/result-backend.js';
import type { BroadcastBinding, BroadcastRoute, Broker, BrokerMessage, ConsumeOptions, Consumer, DelayedMessage, ListDelayedOptions, QueueStats } from '../broker/broker.js';
import { brokerCapabilities, type BrokerCapabilities } from '../broker/capabilities.js';
import { DeliveryBuffer } from '../broker/delivery-buffer.js';
import { BrokerConnectionError, TqError, UnsupportedError } from '../errors.js';

/** Where the worker for memory://name listens. TQ_MEMORY_SOCKET overrides it. */
export function bridgeSocketPath(url: URL | string): string {
  const override = process.env['TQ_MEMORY_SOCKET'];
  if (override) return override;
  const name = new URL(String(url)).host || 'default';
  return join(tmpdir(), `tq-${userInfo().uid}-${name.replace(/[^a-zA-Z0-9_.-]/g, '_')}.sock`);
}

interface Request {
  readonly id: number;
  readonly op: 'publish' | 'purge' | 'queueStats' | 'listDelayed' | 'fetch' | 'store' | 'forget' | 'watch' | 'unwatch' | 'broadcast' | 'subscribe' | 'getVersioned' | 'compareAndSet';
  /** compareAndSet's expected version (null: absent). */
  readonly expected?: string | null;
  readonly channel?: string;
  readonly body?: string;
  readonly queue?: string;
  readonly limit?: number;
  readonly taskId?: string;
  readonly message?: WireMessage;
  readonly record?: string;
  readonly options?: StoreOptions;
  readonly route?: BroadcastRoute;
  readonly binding?: BroadcastBinding;
}

interface WireMessage {
  readonly body: string;
  readonly headers: BrokerMessage['headers'];
  readonly properties: BrokerMessage['properties'];
  readonly notBefore?: number;
}

const toWire = (m: BrokerMessage): WireMessage => ({ ...m, body: Buffer.from(m.body).toString('base64') });
const fromWire = (m: WireMessage): BrokerMessage => ({ ...m, body: new Uint8Array(Buffer.from(m.body, 'base64')) });

function onLines(socket: Socket, handle: (line: string) => void): void {
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line) handle(line);
    }
  });
}

/** Serve `broker` and `backend` on the socket for memory://name. Returns a closer. */
export async function serveBridge(url: URL | string, broker: Broker, backend: ResultBackend | null): Promise<() => Promise<void>> {
  const path = bridgeSocketPath(url);
  if (existsSync(path)) {
    if (await socketAnswers(path)) throw new TqError('TQ_CONFIG_INVALID', `another tq worker already serves ${String(url)} at ${path}; use another memory://name`);
    unlinkSync(path); // left by a worker that died
  }
  const server: Server = createServer((socket) => {
    const watches = new Map<number, AbortController>();
    socket.on('close', () => watches.forEach((c) => c.abort()));
    socket.on('error', () => undefined);
    const reply = (value: object) => socket.writable && socket.write(`${JSON.stringify(value)}\n`);
    onLines(socket, (line) => {
      let request: Request;
      try {
        request = JSON.parse(line) as Request;
      } catch {
        return;
      }
      void (async () => {
        try {
          const value = await serve(request, broker, backend, watches, (record) => reply({ id: request.id, event: record }));
          reply({ id: request.id, ok: true, value });
        } catch (error) {
          reply({ id: request.id, ok: false, error: (error as Error).message, code: (error as TqError).code });
        }
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path, readableAll: false, writableAll: false }, () => resolve());
  });
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    });
}

async function serve(
  request: Request,
  broker: Broker,
  backend: ResultBackend | null,
  watches: Map<number, AbortController>,
  push: (record: string) => void,
): Promise<unknown> {
  const needBackend = () => {
    if (!backend) throw new TqError('TQ_NO_RESULT_BACKEND', 'the worker has no result backend');
    return backend;
  };
  switch (request.op) {
    case 'publish':
      return broker.publish(request.queue!, fromWire(request.message!));
    case 'purge':
      return broker.purge ? broker.purge(request.queue!) : 0;
    case 'queueStats':
      if (!broker.queueStats) throw new UnsupportedError('the worker broker cannot count its queues');
      return broker.queueStats(request.queue!);
    case 'listDelayed':
      if (!broker.listDelayed) throw new UnsupportedError('the worker broker cannot list its delayed messages');
      return broker.listDelayed(request.queue!, { limit: request.limit ?? 100 });
    case 'fetch': {
      const bytes = await needBackend().fetch(request.taskId!);
      return bytes ? Buffer.from(bytes).toString('base64') : null;
    }
    case 'store':
      return needBackend().store(request.taskId!, new Uint8Array(Buffer.from(request.record!, 'base64')), request.options ?? {});
    case 'forget':
      return needBackend().forget(request.taskId!);
    case 'getVersioned': {
      const read = needBackend().getVersioned ? await needBackend().getVersioned!(request.taskId!) : null;
      return read ? { value: Buffer.from(read.value).toString('base64'), version: read.version } : null;
    }
    case 'compareAndSet': {
      const target = needBackend();
      if (!target.compareAndSet) throw new UnsupportedError('the worker result backend keeps no versioned records');
      return target.compareAndSet(request.taskId!, new Uint8Array(Buffer.from(request.record!, 'base64')), request.expected ?? null);
    }
    case 'watch': {
      const source = needBackend();
      const controller = new AbortController();
      watches.set(request.id, controller);
      void (async () => {
        const updates = source.watch ? source.watch(request.taskId!, controller.signal) : [];
        for await (const bytes of updates) push(Buffer.from(bytes).toString('base64'));
      })().catch(() => undefined);
      return null;
    }
    case 'subscribe': {
      if (!broker.subscribe) throw new UnsupportedError('the worker broker has no broadcast channel');
      const controller = new AbortController();
      watches.set(request.id, controller);
      void (async () => {
        for await (const bytes of broker.subscribe!(request.channel!, controller.signal, request.binding)) push(Buffer.from(bytes).toString('base64'));
      })().catch(() => undefined);
      return null;
    }
    case 'broadcast':
      if (!broker.broadcast) throw new UnsupportedError('the worker broker has no broadcast channel');
      return broker.broadcast(request.channel!, new Uint8Array(Buffer.from(request.body!, 'base64')), request.route);
    case 'unwatch':
      watches.get(Number(request.taskId))?.abort();
      return null;
  }
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** One connection to a serving worker, shared by the bridge broker and backend. */
export class BridgeClient {
  readonly path: string;
  #socket: Socket | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #events = new Map<number, DeliveryBuffer<Uint8Array>>();

  readonly #url: string;

  constructor(url: URL | string) {
    this.path = bridgeSocketPath(url);
    this.#url = String(url);
  }

  async connect(): Promise<void> {
    if (this.#socket) return;
    const socket = createConnection({ path: this.path });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', (error) =>
        reject(
          new BrokerConnectionError(
            `no tq worker serves ${this.#url} on this machine (${this.path}): memory:// lives inside the worker's process. ` +
              `Start one with "tq worker --app ./tasks.js${/^memory:\/\/[^/?]/.test(this.#url) ? ` --broker ${this.#url}` : ''}" first, or use a shared broker (--broker redis://…)`,
            { cause: error },
          ),
        ),
      );
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      for (const { reject } of this.#pending.values()) reject(new BrokerConnectionError('the tq worker serving memory:// went away'));
      this.#pending.clear();
      for (const buffer of this.#events.values()) buffer.end();
      this.#socket = undefined;
    });
    onLines(socket, (line) => {
      const message = JSON.parse(line) as { id: number; ok?: boolean; value?: unknown; error?: string; event?: string };
      if (message.event !== undefined) {
        this.#events.get(message.id)?.push(new Uint8Array(Buffer.from(message.event, 'base64')));
        return;
      }
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(new TqError('TQ_BROKER_UNAVAILABLE', message.error ?? 'bridge request failed'));
    });
    socket.unref();
    this.#socket = socket;
  }

  request(op: Request['op'], fields: Omit<Request, 'id' | 'op'>, onEvent?: DeliveryBuffer<Uint8Array>): Promise<unknown> {
    const socket = this.#socket;
    if (!socket) return Promise.reject(new BrokerConnectionError('not connected to the tq worker serving memory://'));
    const id = this.#nextId++;
    if (onEvent) this.#events.set(id, onEvent);
    socket.ref();
    return new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      socket.write(`${JSON.stringify({ id, op, ...fields })}\n`);
    }).finally(() => {
      if (this.#pending.size === 0 && this.#events.size === 0) socket.unref();
    });
  }

  /** A stream of pushed events: result records ('watch') or broadcasts ('subscribe'). */
  stream(op: 'watch' | 'subscribe', fields: Omit<Request, 'id' | 'op'>, signal: AbortSignal): AsyncIterable<Uint8Array> {
    const buffer = new DeliveryBuffer<Uint8Array>({ signal });
    const id = this.#nextId;
    void this.request(op, fields, buffer).catch((error: unknown) => buffer.fail(error));
    this.#socket?.ref();
    signal.addEventListener('abort', () => {
      this.#events.delete(id);
      void this.request('unwatch', { taskId: String(id) }).catch(() => undefined);
    });
    return buffer;
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
  }
}

/** Publishes to the worker that serves memory://; cannot consume. */
export class BridgeBroker implements Broker {
  readonly capabilities: BrokerCapabilities = brokerCapabilities({ delayedDelivery: true, maxPriority: 9, purge: true, purgeDelayed: true, listDelayed: true, broadcast: true, queueStats: true });
  readonly #client: BridgeClient;

  constructor(client: BridgeClient) {
    this.#client = client;
  }

  connect(): Promise<void> {
    return this.#client.connect();
  }

  async publish(queue: string, message: BrokerMessage): Promise<void> {
    await this.#client.request('publish', { queue, message: toWire(message) });
  }

  consume(_queue: string, _options: ConsumeOptions): Consumer {
    throw new UnsupportedError('memory:// can only be consumed inside the process that owns it (the tq worker)');
  }

  async purge(queue: string): Promise<number> {
    return (await this.#client.request('purge', { queue })) as number;
  }

  async queueStats(queue: string): Promise<QueueStats> {
    return (await this.#client.request('queueStats', { queue })) as QueueStats;
  }

  async listDelayed(queue: string, options: ListDelayedOptions): Promise<DelayedMessage[]> {
    return (await this.#client.request('listDelayed', { queue, limit: options.limit })) as DelayedMessage[];
  }

  async broadcast(channel: string, body: Uint8Array, route?: BroadcastRoute): Promise<void> {
    await this.#client.request('broadcast', { channel, body: Buffer.from(body).toString('base64'), ...(route ? { route } : {}) });
  }

  subscribe(channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array> {
    return this.#client.stream('subscribe', { channel, ...(binding ? { binding } : {}) }, signal);
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}

/** Reads and watches results kept by the worker that serves memory://. */
export class BridgeResultBackend implements ResultBackend {
  readonly capabilities: ResultBackendCapabilities = { watch: true, expiry: true, compareAndSet: true };
  readonly #client: BridgeClient;

  constructor(client: BridgeClient) {
    this.#client = client;
  }

  connect(): Promise<void> {
    return this.#client.connect();
  }

  async store(taskId: string, record: Uint8Array, options: StoreOptions): Promise<void> {
    await this.#client.request('store', { taskId, record: Buffer.from(record).toString('base64'), options });
  }

  async fetch(taskId: string): Promise<Uint8Array | null> {
    const value = (await this.#client.request('fetch', { taskId })) as string | null;
    return value === null ? null : new Uint8Array(Buffer.from(value, 'base64'));
  }

  watch(taskId: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    return this.#client.stream('watch', { taskId }, signal);
  }

  async forget(taskId: string): Promise<void> {
    await this.#client.request('forget', { taskId });
  }

  /** Beat's records, kept by the worker (so `tq beat list|add|…` reach a `tq worker --beat` on memory://). */
  async getVersioned(key: string): Promise<VersionedValue | null> {
    const read = (await this.#client.request('getVersioned', { taskId: key })) as { value: string; version: string } | null;
    return read ? { value: new Uint8Array(Buffer.from(read.value, 'base64')), version: read.version } : null;
  }

  async compareAndSet(key: string, value: Uint8Array, expected: string | null): Promise<string | null> {
    return (await this.#client.request('compareAndSet', { taskId: key, record: Buffer.from(value).toString('base64'), expected })) as string | null;
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}
