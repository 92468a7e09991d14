import { connect as netConnect, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { AdapterOptions, Broker } from '@tq/core/adapter';
import type { ISocketFactory } from 'kafkajs';
import kafka from '../../src/index.js';
import { startKafkaMock, type KafkaMock } from '../../../../integration/kafka-mock/launch.mjs';

/**
 * The Kafka the tests talk to: TQ_TEST_KAFKA_BROKERS (host:port,host:port) when set, else a
 * librdkafka mock cluster started for this test file. The mock has no CreateTopics and no
 * InitProducerId for kafkajs (it reports controller 0, which does not exist), so topics are
 * created through the launcher and the producer is not idempotent there.
 */
export interface TestCluster {
  readonly kind: 'mock' | 'external';
  /** A URL with the test timings (short session timeout so a dead consumer is noticed quickly). */
  readonly url: string;
  readonly adapterOptions: AdapterOptions;
  readonly mock: KafkaMock | undefined;
  stop(): Promise<void>;
}

const testParams = 'sessionTimeoutMs=6000&heartbeatIntervalMs=500&maxWaitTimeMs=50';

export async function startTestCluster(): Promise<TestCluster> {
  const external = process.env.TQ_TEST_KAFKA_BROKERS;
  if (external) {
    const [first, ...rest] = external.split(',');
    const extra = rest.length ? `&brokers=${rest.join(',')}` : '';
    return { kind: 'external', url: `kafka://${first}?${testParams}${extra}`, adapterOptions: {}, mock: undefined, stop: async () => undefined };
  }
  const mock = await startKafkaMock();
  return {
    kind: 'mock',
    url: `${mock.url}&${testParams}`,
    adapterOptions: mock.adapterOptions,
    mock,
    stop: () => mock.stop(),
  };
}

/**
 * Sockets per broker instance, so a test can cut one broker's connections as a crashed host
 * would (and refuse its reconnects), leaving the other brokers alone.
 */
export class ConnectionCutter {
  readonly #sockets = new WeakMap<object, { open: Set<Socket>; dead: boolean; silent: boolean }>();

  /** A fresh broker whose sockets are tracked, so `cut` can kill them. */
  createBroker(url: URL, base: AdapterOptions): Broker {
    const state = { open: new Set<Socket>(), dead: false, silent: false };
    const socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
      // A black hole: the connect never completes (kafkajs's connectionTimeout gives up).
      if (state.silent) return new Socket();
      const socket = ssl ? tlsConnect({ host, port, servername: host, ...ssl }, onConnect) : netConnect({ host, port }, onConnect);
      if (state.dead) {
        queueMicrotask(() => socket.destroy(new Error('connection refused (cut by test)')));
        return socket;
      }
      state.open.add(socket);
      socket.on('close', () => state.open.delete(socket));
      return socket;
    };
    const broker = kafka.createBroker!(url, { ...base, socketFactory });
    this.#sockets.set(broker, state);
    return broker;
  }

  /**
   * Every open connection of `owner` goes silent for good (nothing more is read from it: a
   * half-open connection), and new ones never connect, until `heal`.
   */
  silence(owner: Broker): { heal(): void } {
    const state = this.#sockets.get(owner);
    if (!state) throw new Error('unknown broker: create it through ConnectionCutter.createBroker');
    state.silent = true;
    for (const socket of state.open) {
      socket.pause();
      socket.removeAllListeners('data');
    }
    return { heal: () => void (state.silent = false) };
  }

  /** Destroys every connection of `owner` and refuses new ones. */
  cut(owner: Broker): void {
    const state = this.#sockets.get(owner);
    if (!state) throw new Error('unknown broker: create it through ConnectionCutter.optionsFor');
    state.dead = true;
    for (const socket of state.open) socket.destroy();
  }
}
