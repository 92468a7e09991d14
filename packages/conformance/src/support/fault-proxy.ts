import { createServer, Socket, type AddressInfo, type Server } from 'node:net';

/**
 * How the proxy treats traffic:
 * - 'forward': pass bytes both ways (after `delayMs`, if set);
 * - 'drop':    keep connections open but discard every byte (a black hole: the peer sees silence);
 * - 'refuse':  reset each new connection at once (the broker's port answers but nothing is served).
 */
export type FaultMode = 'forward' | 'drop' | 'refuse';

export interface FaultProxyTarget {
  readonly host: string;
  readonly port: number;
}

/**
 * A TCP proxy a test owns, to inject faults between a client and its broker without touching
 * the broker: `cut()` kills every connection abruptly (RST, as when a host or cable dies),
 * `setDelay()` adds latency, `setMode('drop' | 'refuse')` simulates an outage, `silence()` turns
 * the connections open now into half-open ones (silent for good). Listens on
 * 127.0.0.1 on a free port; point the client at `proxy.port` instead of the broker's.
 *
 * ```ts
 * const proxy = await FaultProxy.start({ host: '127.0.0.1', port: 6379 });
 * const broker = adapter.createBroker(new URL(`redis://127.0.0.1:${proxy.port}/15`), {});
 * // … consume, then:
 * proxy.cut();
 * await proxy.close();
 * ```
 */
export class FaultProxy {
  readonly target: FaultProxyTarget;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #clients = new Set<Socket>();
  /** Sockets silenced for good by silence(): their bytes are discarded whatever the mode. */
  readonly #silenced = new WeakSet<Socket>();
  #mode: FaultMode = 'forward';
  #delayMs = 0;
  #accepted = 0;

  private constructor(target: FaultProxyTarget, server: Server) {
    this.target = target;
    this.#server = server;
  }

  static async start(target: FaultProxyTarget): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(target, server);
    server.on('connection', (client) => proxy.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  /** The local port clients connect to. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get mode(): FaultMode {
    return this.#mode;
  }

  /** Client connections currently open through the proxy. */
  get openConnections(): number {
    return this.#clients.size;
  }

  /** Client connections accepted since start (including refused ones). */
  get acceptedConnections(): number {
    return this.#accepted;
  }

  setMode(mode: FaultMode): void {
    this.#mode = mode;
    if (mode === 'refuse') this.cut();
  }

  /** Delay every chunk, in both directions, by `ms` (order is kept). */
  setDelay(ms: number): void {
    this.#delayMs = Math.max(0, ms);
  }

  /** Destroy every open connection abruptly with a TCP reset; new connections follow the mode. */
  cut(): void {
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
    this.#clients.clear();
  }

  /**
   * Every connection open now goes silent for good, in both directions, without a FIN or RST:
   * a half-open connection (the broker's host rebooted, a NAT or firewall dropped the flow). The
   * client sees nothing until it gives up on the connection itself; a later setMode('forward')
   * does not revive these, only new connections. Combine with setMode('drop') so that new
   * connections are silent too until the network "heals".
   */
  silence(): void {
    for (const socket of this.#sockets) this.#silenced.add(socket);
  }

  /** Stop listening and cut every connection. Idempotent. */
  async close(): Promise<void> {
    this.cut();
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.#accepted++;
    if (this.#mode === 'refuse') {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = new Socket();
    this.#clients.add(client);
    client.on('close', () => this.#clients.delete(client));
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.setNoDelay(true);
      // A reset is the point of this class: errors end the pair, they are not failures.
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        const other = socket === client ? upstream : client;
        if (!other.destroyed) other.destroy();
      });
    }
    client.pause();
    upstream.connect(this.target.port, this.target.host, () => client.resume());
    this.#pipe(client, upstream);
    this.#pipe(upstream, client);
  }

  #pipe(from: Socket, to: Socket): void {
    // Delayed chunks wait in one chain per direction, so a delay never reorders bytes.
    let chain = Promise.resolve();
    let waiting = 0;
    from.on('data', (chunk: Buffer) => {
      if (this.#mode === 'drop' || this.#silenced.has(from)) return;
      const delay = this.#delayMs;
      if (delay === 0 && waiting === 0) {
        if (!to.destroyed) to.write(chunk);
        return;
      }
      waiting++;
      chain = chain.then(
        () =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              waiting--;
              if (!to.destroyed && this.#mode !== 'drop' && !this.#silenced.has(from)) to.write(chunk);
              resolve();
            }, delay),
          ),
      );
    });
    from.on('end', () => {
      void chain.then(() => to.end());
    });
  }
}
