import type { BroadcastBinding, Broker, BrokerMessage, QueueStats, ConsumeOptions, DelayedMessage, Delivery, ListDelayedOptions, ResultBackend, StoreOptions } from '@tq/core/adapter';

/** One deliberate bug in an otherwise correct broker: the kit must catch each. */
export interface BrokerMutation {
  publish?(inner: Broker, queue: string, message: BrokerMessage): Promise<void>;
  consumeOptions?(options: ConsumeOptions): ConsumeOptions;
  delivery?(delivery: Delivery, inner: Broker, queue: string): Delivery;
  close?(inner: Broker, outstanding: Set<Delivery>): Promise<void>;
  subscribe?(inner: Broker, channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array>;
  queueStats?(inner: Broker, queue: string): Promise<QueueStats>;
  purge?(inner: Broker, queue: string): Promise<number>;
  listDelayed?(inner: Broker, queue: string, options: ListDelayedOptions): Promise<DelayedMessage[]>;
  /** Replaces consume entirely (the delivery mutation is not applied then). */
  consume?(inner: Broker, queue: string, options: ConsumeOptions): AsyncIterable<Delivery>;
}

/** `inner` with `mutation` applied; everything else passes through. */
export function mutantBroker(inner: Broker, mutation: BrokerMutation): Broker {
  const outstanding = new Set<Delivery>();
  return {
    capabilities: inner.capabilities,
    connect: (options) => inner.connect(options),
    publish: (queue, message) => (mutation.publish ? mutation.publish(inner, queue, message) : inner.publish(queue, message)),
    consume(queue, options) {
      if (mutation.consume) return mutation.consume(inner, queue, options);
      const source = inner.consume(queue, mutation.consumeOptions ? mutation.consumeOptions(options) : options);
      return (async function* () {
        for await (const original of source) {
          const tracked: Delivery = {
            message: original.message,
            redelivered: original.redelivered,
            ack: async () => {
              outstanding.delete(tracked);
              await original.ack();
            },
            reject: async (requeue) => {
              outstanding.delete(tracked);
              await original.reject(requeue);
            },
          };
          outstanding.add(tracked);
          yield mutation.delivery ? mutation.delivery(tracked, inner, queue) : tracked;
        }
      })();
    },
    close: () => (mutation.close ? mutation.close(inner, outstanding) : inner.close()),
    purge: inner.purge ? (queue) => (mutation.purge ? mutation.purge(inner, queue) : inner.purge!(queue)) : undefined,
    listDelayed: inner.listDelayed ? (queue, options) => (mutation.listDelayed ? mutation.listDelayed(inner, queue, options) : inner.listDelayed!(queue, options)) : undefined,
    queueStats: inner.queueStats ? (queue) => (mutation.queueStats ? mutation.queueStats(inner, queue) : inner.queueStats!(queue)) : undefined,
    broadcast: inner.broadcast ? (channel, body, route) => inner.broadcast!(channel, body, route) : undefined,
    subscribe: inner.subscribe
      ? (channel, signal, binding) => (mutation.subscribe ? mutation.subscribe(inner, channel, signal, binding) : inner.subscribe!(channel, signal, binding))
      : undefined,
  };
}

export interface BackendMutation {
  store?(inner: ResultBackend, taskId: string, record: Uint8Array, options: StoreOptions): Promise<void>;
  claim?(inner: ResultBackend, key: string, value: string, ttlMs: number): Promise<string | null>;
  retain?(inner: ResultBackend, group: string, taskId: string, keep: number): Promise<void>;
  compareAndSet?(inner: ResultBackend, key: string, value: Uint8Array, expected: string | null): Promise<string | null>;
}

export function mutantBackend(inner: ResultBackend, mutation: BackendMutation): ResultBackend {
  return {
    capabilities: inner.capabilities,
    connect: (options) => inner.connect(options),
    store: (taskId, record, options) => (mutation.store ? mutation.store(inner, taskId, record, options) : inner.store(taskId, record, options)),
    fetch: (taskId) => inner.fetch(taskId),
    watch: inner.watch ? (taskId, signal) => inner.watch!(taskId, signal) : undefined,
    forget: (taskId) => inner.forget(taskId),
    close: () => inner.close(),
    ...(inner.claim ? { claim: (key: string, value: string, ttlMs: number) => (mutation.claim ? mutation.claim(inner, key, value, ttlMs) : inner.claim!(key, value, ttlMs)) } : {}),
    ...(inner.retain ? { retain: (group: string, taskId: string, keep: number) => (mutation.retain ? mutation.retain(inner, group, taskId, keep) : inner.retain!(group, taskId, keep)) } : {}),
    ...(inner.releaseClaim ? { releaseClaim: (key: string, value: string) => inner.releaseClaim!(key, value) } : {}),
    ...(inner.getVersioned ? { getVersioned: (key: string) => inner.getVersioned!(key) } : {}),
    ...(inner.compareAndSet
      ? { compareAndSet: (key: string, value: Uint8Array, expected: string | null) => (mutation.compareAndSet ? mutation.compareAndSet(inner, key, value, expected) : inner.compareAndSet!(key, value, expected)) }
      : {}),
  };
}
