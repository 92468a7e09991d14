import { expect } from 'vitest';
import { sleep, withTimeout } from './timing.js';

/** A broker or a result backend, seen as a broadcast channel. */
export interface BroadcastCarrier {
  broadcast(channel: string, body: Uint8Array): Promise<void>;
  subscribe(channel: string, signal: AbortSignal): AsyncIterable<Uint8Array>;
}

const encoder = new TextEncoder();

/** Two subscribers on their own clients both receive a broadcast from a third, byte for byte. */
export async function checkFanOut(clients: () => BroadcastCarrier, channel: string, deliveryMs: number): Promise<void> {
  const controller = new AbortController();
  const subscribers = [clients(), clients()].map((c) => c.subscribe(channel, controller.signal)[Symbol.asyncIterator]());
  const firsts = subscribers.map((s) => s.next());
  const publisher = clients();
  // Subscriptions have no "ready" signal: repeat a warm-up until both subscribers hear it.
  const warmUp = encoder.encode('warm-up');
  let heard = false;
  void Promise.all(firsts).then(() => (heard = true));
  const deadline = Date.now() + deliveryMs;
  while (!heard && Date.now() < deadline) {
    await publisher.broadcast(channel, warmUp);
    await sleep(100);
  }
  const first = await withTimeout(Promise.all(firsts), 1_000, 'both subscribers to hear the warm-up broadcast');
  for (const result of first) expect(Buffer.from(result.value!).toString()).toBe('warm-up');
  // Drain extra warm-ups, then the real message must reach both, exactly.
  const body = new Uint8Array([0, 1, 2, 255, ...encoder.encode('revoke 🐢')]);
  await publisher.broadcast(channel, body);
  for (const subscriber of subscribers) {
    for (;;) {
      const next = await withTimeout(subscriber.next(), deliveryMs, 'the broadcast after the warm-ups');
      expect(next.done).toBe(false);
      if (Buffer.from(next.value!).toString() === 'warm-up') continue;
      expect(Buffer.from(next.value!).equals(Buffer.from(body))).toBe(true);
      break;
    }
  }
  controller.abort();
  await Promise.all(subscribers.map((s) => s.return?.()));
}

/** A pending read of a subscription ends (done) when its signal aborts. */
export async function checkAbortEnds(client: BroadcastCarrier, channel: string): Promise<void> {
  const controller = new AbortController();
  const subscription = client.subscribe(channel, controller.signal)[Symbol.asyncIterator]();
  const pending = subscription.next();
  setTimeout(() => controller.abort(), 200).unref();
  expect((await withTimeout(pending, 5_000, 'subscribe to end after abort')).done).toBe(true);
}
