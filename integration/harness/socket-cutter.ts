import { connect as netConnect, Socket as NetSocket, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { AdapterOptions, Broker, TqAdapter } from '@tq/core/adapter';

/** kafkajs's socketFactory signature, typed by the subset used. */
type SocketFactory = (args: { host: string; port: number; ssl: ConnectionOptions | boolean; onConnect: () => void }) => Socket;

interface BrokerSockets {
  readonly open: Set<Socket>;
  dead: boolean;
  silent: boolean;
  /** Connections the client has tried to open so far. */
  dials: number;
}

/**
 * Tracks the sockets of each broker an adapter creates, through the adapter's `socketFactory`
 * option (the Kafka adapter has one), so a test can kill one broker's connections as a crashed
 * host would and refuse its reconnects, or silence them as a half-open network does. For
 * clients that learn broker addresses from metadata and so bypass a TCP proxy.
 */
export class SocketCutter {
  readonly #state = new WeakMap<Broker, BrokerSockets>();

  /** `adapter` whose brokers are tracked. */
  wrap(adapter: TqAdapter): TqAdapter {
    const create = adapter.createBroker?.bind(adapter);
    if (!create) return adapter;
    return {
      ...adapter,
      createBroker: (url: URL, options: AdapterOptions) => {
        const state: BrokerSockets = { open: new Set<Socket>(), dead: false, silent: false, dials: 0 };
        const socketFactory: SocketFactory = ({ host, port, ssl, onConnect }) => {
          state.dials++;
          // A black hole: the connect never completes (the client's connection timeout gives up).
          if (state.silent) return new NetSocket();
          const socket = ssl ? tlsConnect({ host, port, servername: host, ...(typeof ssl === 'object' ? ssl : {}) }, onConnect) : netConnect({ host, port }, onConnect);
          if (state.dead) {
            queueMicrotask(() => socket.destroy(new Error('connection refused (cut by the test)')));
            return socket;
          }
          state.open.add(socket);
          socket.on('close', () => state.open.delete(socket));
          return socket;
        };
        const broker = create(url, { ...options, socketFactory });
        this.#state.set(broker, state);
        return broker;
      },
    };
  }

  /** Destroys every connection of `broker` and refuses its new ones. */
  async cut(broker: Broker): Promise<void> {
    const state = this.#of(broker);
    state.dead = true;
    // What a reset from the network looks like to the client: the read fails with ECONNRESET.
    // (A socket destroyed without an error, as resetAndDestroy() leaves it locally, is something
    // only the process itself can do, and kafkajs, which listens for 'end' and 'error' only,
    // never notices it: its worker then waited forever.)
    for (const socket of state.open) socket.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' }));
  }

  /**
   * Every open connection of `broker` goes silent (nothing more is read from it, no RST: a
   * half-open connection), and new ones never connect, until heal().
   */
  silence(broker: Broker): void {
    const state = this.#of(broker);
    state.silent = true;
    for (const socket of state.open) {
      socket.pause();
      socket.removeAllListeners('data');
    }
  }

  /** How many connections `broker`'s client has tried to open (a new dial = it gave up on one). */
  dials(broker: Broker): number {
    return this.#of(broker).dials;
  }

  /** Lets `broker` connect again after cut() or silence() (the host or network is back). */
  heal(broker: Broker): void {
    const state = this.#of(broker);
    state.dead = false;
    state.silent = false;
  }

  #of(broker: Broker): BrokerSockets {
    const state = this.#state.get(broker);
    if (!state) throw new Error('SocketCutter: this broker was not created through wrap()');
    return state;
  }
}
