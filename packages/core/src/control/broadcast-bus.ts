import type { RuntimeBackend } from '../backend/runtime-backend.js';
import type { BroadcastBinding, BroadcastRoute } from '../broker/broker.js';
import type { RuntimeBroker } from '../broker/runtime-broker.js';

/**
 * Where broadcasts travel: remote control and its replies, revocations, events. The broker's own
 * channel when it has one (Redis pub/sub, an AMQP fanout exchange, NATS core subjects); on a
 * broker without one (Kafka), the result backend's, when it has one (Redis). With neither, there
 * is no bus: workers then look for revocations in the result backend before each task.
 */
export interface BroadcastBus {
  /** Which connection carries the bus, for messages and logs. */
  readonly via: 'broker' | 'result backend';
  broadcast(channel: string, body: Uint8Array, route?: BroadcastRoute): Promise<void>;
  /** Subscribed once the first read is pending, as RuntimeBroker.subscribe. */
  subscribe(channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array>;
}

export function chooseBroadcastBus(broker: RuntimeBroker, backend: RuntimeBackend | null): BroadcastBus | null {
  if (broker.capabilities.broadcast) return busOn('broker', broker);
  if (backend?.capabilities.broadcast) return busOn('result backend', backend);
  return null;
}

function busOn(via: BroadcastBus['via'], carrier: Pick<BroadcastBus, 'broadcast' | 'subscribe'>): BroadcastBus {
  return {
    via,
    broadcast: (channel, body, route) => carrier.broadcast(channel, body, route),
    subscribe: (channel, signal, binding) => carrier.subscribe(channel, signal, binding),
  };
}
