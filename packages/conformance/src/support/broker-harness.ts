import { defaultBrokerCapabilities, RuntimeBroker, type Broker, type BrokerCapabilities } from '@tq/core/adapter';
import { afterEach } from 'vitest';
import { proxyTarget, resolveOptions, type BrokerFactory, type ConformanceOptions, type ResolvedConformanceOptions } from '../options.js';
import { FaultProxy } from './fault-proxy.js';
import { probeCapabilities } from './probe-capabilities.js';
import { TestConsumer } from './test-consumer.js';
import { sleep, withTimeout } from './timing.js';
import { uniqueName } from './unique-name.js';

/** A broker whose connections a test can kill abruptly. */
export interface CuttableBroker {
  readonly broker: RuntimeBroker;
  cut(): Promise<void>;
}

/** Brokers that lose their server for a while: by the restartBroker hook, or simulated by the proxy. */
export interface RestartableBrokers {
  broker(): RuntimeBroker;
  restart(): Promise<void>;
  readonly method: 'restartBroker' | 'fault proxy';
}

const probed = new WeakMap<BrokerFactory, BrokerCapabilities>();

/**
 * What every broker test uses: fresh instances, unique queues, consumers, fault injection, and
 * cleanup after each test (consumers stopped, brokers closed, proxies closed, queues deleted).
 * Create it inside a `describe` block: it registers an afterEach hook.
 */
export class BrokerHarness {
  readonly options: ResolvedConformanceOptions;
  readonly capabilities: BrokerCapabilities;
  readonly #factory: BrokerFactory;
  #brokers: RuntimeBroker[] = [];
  #consumers: TestConsumer[] = [];
  #proxies: FaultProxy[] = [];
  #queues: string[] = [];
  /** Brokers cut through a proxy: closed while their proxy still refuses, never reconnected. */
  #victims: { broker: RuntimeBroker; proxy: FaultProxy }[] = [];

  constructor(factory: BrokerFactory, options: ConformanceOptions) {
    this.#factory = factory;
    this.options = resolveOptions(options);
    this.capabilities = probeCapabilities(probed, factory, this.options.url, defaultBrokerCapabilities);
    afterEach(() => this.cleanup(), 60_000);
  }

  /** Longest wait for unacked deliveries to return after a cut or close. */
  get redeliveryMs(): number {
    return this.options.timeouts.redeliveryMs ?? (this.capabilities.redeliveryWindowMs ?? 0) + 10_000;
  }

  /** Abrupt connection loss can be injected (cutConnection hook, or the fault proxy). */
  get canCut(): boolean {
    return this.options.cutConnection !== undefined || this.options.proxyUrl !== undefined;
  }

  /** The broker can be taken away for a while (restartBroker hook, or the fault proxy). */
  get canRestart(): boolean {
    return this.options.restartBroker !== undefined || this.options.proxyUrl !== undefined;
  }

  /** The fault proxy can sit between the adapter and its broker. */
  get canProxy(): boolean {
    return this.options.proxyUrl !== undefined;
  }

  /** A queue name unique to this test, deleted after it (with its dead-letter queue). */
  queue(label: string): string {
    const name = uniqueName(label, this.options.queuePrefix);
    this.#queues.push(name);
    return name;
  }

  /** A fresh broker instance (its own connections), wrapped in core's runtime guard. */
  broker(url: URL = this.options.url): RuntimeBroker {
    const broker = new RuntimeBroker(this.#factory(url), { retry: this.options.retry, name: 'broker under test' });
    this.#brokers.push(broker);
    return broker;
  }

  /** A consumer on `queue`, stopped after the test. */
  consumer(broker: Broker, queue: string, prefetch: number): TestConsumer {
    const consumer = new TestConsumer(broker, queue, prefetch);
    this.#consumers.push(consumer);
    return consumer;
  }

  /** A fault proxy in front of the broker under test, closed after the test. */
  async proxy(): Promise<{ proxy: FaultProxy; url: URL }> {
    const mapUrl = this.options.proxyUrl;
    const target = proxyTarget(this.options.url);
    if (!mapUrl || !target) throw new Error('the fault proxy is not available for this broker URL (set proxyUrl)');
    const proxy = await FaultProxy.start(target);
    this.#proxies.push(proxy);
    return { proxy, url: mapUrl(this.options.url, proxy.port) };
  }

  /** A broker whose connections `cut()` kills: by the cutConnection hook, else through the proxy. */
  async cuttableBroker(): Promise<CuttableBroker> {
    const hook = this.options.cutConnection;
    if (hook) {
      const broker = this.broker();
      return { broker, cut: () => hook(broker.inner) };
    }
    const { proxy, url } = await this.proxy();
    const broker = this.broker(url);
    return {
      broker,
      // Reset every connection and refuse reconnects until the test ends: a dead host stays
      // dead, so the victim cannot come back and take its own deliveries (or locks) again.
      cut: async () => {
        proxy.setMode('refuse');
        this.#victims.push({ broker, proxy });
      },
    };
  }

  /** Brokers that lose their server during `restart()`. */
  async restartable(outageMs = 1_500): Promise<RestartableBrokers> {
    const hook = this.options.restartBroker;
    if (hook) return { broker: () => this.broker(), restart: hook, method: 'restartBroker' };
    const { proxy, url } = await this.proxy();
    return {
      broker: () => this.broker(url),
      restart: async () => {
        proxy.setMode('refuse');
        await sleep(outageMs);
        proxy.setMode('forward');
      },
      method: 'fault proxy',
    };
  }

  async cleanup(): Promise<void> {
    const consumers = this.#consumers.splice(0);
    const brokers = this.#brokers.splice(0);
    const proxies = this.#proxies.splice(0);
    const queues = this.#queues.splice(0);
    const victims = this.#victims.splice(0);
    await Promise.all(consumers.map((c) => withTimeout(c.stop(), 5_000, 'stopping a consumer').catch(() => undefined)));
    // A cut broker is a dead host: it is closed while still unreachable (a client may not close
    // cleanly then, which is not a failure), and its proxy never forwards again.
    const dead = new Set(victims.map((v) => v.broker));
    await Promise.all(victims.map((v) => withTimeout(v.broker.close(), 5_000, 'closing a cut broker').catch(() => undefined)));
    for (const { proxy } of victims) await proxy.close();
    // Other proxied brokers may be mid-outage: let them reach the broker again to close cleanly.
    for (const proxy of proxies) if (!victims.some((v) => v.proxy === proxy)) proxy.setMode('forward');
    const closing = await Promise.allSettled(brokers.filter((b) => !dead.has(b)).map((b) => withTimeout(b.close(), 10_000, 'closing a broker')));
    await Promise.all(proxies.map((p) => p.close()));
    if (this.options.deleteQueues && queues.length > 0) {
      const all = this.capabilities.deadLetter ? [...queues, ...queues.map(this.options.deadLetterQueue)] : queues;
      await this.options.deleteQueues(all);
    }
    const failed = closing.find((r) => r.status === 'rejected');
    if (failed) throw new Error('broker.close() failed after the test', { cause: (failed as PromiseRejectedResult).reason });
  }
}
