import { randomBytes } from 'node:crypto';
import { afterEach } from 'vitest';
import { AmqpBroker, parseAmqpOptions, RpcResultBackend } from '../../src/index.js';
import { amqpUrl, deleteQueues } from './env.js';

/** A queue name unique to this test run; the exchange tq declares for it has the same name. */
export function uniqueQueue(label: string): string {
  return `tqamqp-${label}-${randomBytes(4).toString('hex')}`;
}

/** The test URL with its host:port replaced (to go through a TcpTap) and extra parameters. */
export function urlVia(port: number | undefined, params: Record<string, string> = {}): URL {
  const url = new URL(amqpUrl);
  if (port !== undefined) {
    url.hostname = '127.0.0.1';
    url.port = String(port);
  }
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url;
}

/**
 * Brokers, backends and queues made by a test, closed and deleted after it. Create at the top
 * of a test file.
 */
export function trackResources() {
  const closers: (() => Promise<void>)[] = [];
  const queues: string[] = [];
  afterEach(async () => {
    // Last made, first closed: brokers before the taps they connect through.
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
    const names = queues.splice(0);
    if (names.length) await deleteQueues([...names, ...names.map((q) => `${q}.dead`)]);
  });
  return {
    broker(url: URL = urlVia(undefined), options: Record<string, unknown> = {}): AmqpBroker {
      const broker = new AmqpBroker(parseAmqpOptions(url, options));
      closers.push(() => broker.close());
      return broker;
    },
    backend(url: URL = urlVia(undefined)): RpcResultBackend {
      const backend = new RpcResultBackend(parseAmqpOptions(url));
      closers.push(() => backend.close());
      return backend;
    },
    queue(label: string): string {
      const name = uniqueQueue(label);
      queues.push(name);
      return name;
    },
    onCleanup(close: () => Promise<void>): void {
      closers.push(close);
    },
  };
}
