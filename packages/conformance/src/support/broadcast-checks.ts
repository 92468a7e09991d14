import { randomBytes } from 'node:crypto';
import type { BroadcastBinding, BroadcastRoute } from '@tq/core/adapter';
import { expect } from 'vitest';
import { sleep, withTimeout } from './timing.js';

/** A broker or a result backend, seen as a broadcast channel. */
export interface BroadcastCarrier {
  broadcast(channel: string, body: Uint8Array, route?: BroadcastRoute): Promise<void>;
  subscribe(channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array>;
}

/**
 * The channels the kit uses. Broadcast exchanges outlive their subscribers on AMQP (Celery
 * declares its own so), so fixed names serve every run instead of one exchange per test left
 * behind; each check tells its own messages by a token of its own.
 */
export const kitChannels = { fanout: 'tq.kit.fanout', topic: 'tq.kit.topic', direct: 'tq.kit.direct' } as const;
const kitTopicChannel = kitChannels.topic;

const encoder = new TextEncoder();

/** Two subscribers on their own clients both receive a broadcast from a third, byte for byte. */
export async function checkFanOut(clients: () => BroadcastCarrier, deliveryMs: number): Promise<void> {
  const channel = kitChannels.fanout;
  const token = randomBytes(6).toString('hex');
  const controller = new AbortController();
  const subscribers = [clients(), clients()].map((c) => skipOthers(c.subscribe(channel, controller.signal)[Symbol.asyncIterator](), token));
  const firsts = subscribers.map((s) => s.next());
  const publisher = clients();
  // Subscriptions have no "ready" signal: repeat a warm-up until both subscribers hear it.
  const warmUp = encoder.encode(`warm-up ${token}`);
  let heard = false;
  void Promise.all(firsts).then(() => (heard = true));
  const deadline = Date.now() + deliveryMs;
  while (!heard && Date.now() < deadline) {
    await publisher.broadcast(channel, warmUp);
    await sleep(100);
  }
  const first = await withTimeout(Promise.all(firsts), 1_000, 'both subscribers to hear the warm-up broadcast');
  for (const result of first) expect(Buffer.from(result.value!).toString()).toBe(`warm-up ${token}`);
  // Drain extra warm-ups, then the real message must reach both, exactly.
  const body = new Uint8Array([0, 1, 2, 255, ...encoder.encode(`revoke 🐢 ${token}`)]);
  await publisher.broadcast(channel, body);
  for (const subscriber of subscribers) {
    for (;;) {
      const next = await withTimeout(subscriber.next(), deliveryMs, 'the broadcast after the warm-ups');
      expect(next.done).toBe(false);
      if (Buffer.from(next.value!).toString() === `warm-up ${token}`) continue;
      expect(Buffer.from(next.value!).equals(Buffer.from(body))).toBe(true);
      break;
    }
  }
  controller.abort();
  await Promise.all(subscribers.map((s) => s.return?.()));
}

/** Skips messages of other runs sharing the kit's fixed channel: those without `token`. */
function skipOthers(iterator: AsyncIterator<Uint8Array>, token: string): AsyncIterator<Uint8Array> {
  const marker = Buffer.from(token);
  return {
    next: async () => {
      for (;;) {
        const next = await iterator.next();
        if (next.done || Buffer.from(next.value).includes(marker)) return next;
      }
    },
    return: async () => iterator.return?.() ?? { done: true, value: undefined },
  };
}

/** A pending read of a subscription ends (done) when its signal aborts. */
export async function checkAbortEnds(client: BroadcastCarrier): Promise<void> {
  const controller = new AbortController();
  const subscription = client.subscribe(kitChannels.fanout, controller.signal)[Symbol.asyncIterator]();
  const pending = subscription.next();
  setTimeout(() => controller.abort(), 200).unref();
  expect((await withTimeout(pending, 5_000, 'subscribe to end after abort')).done).toBe(true);
}

/**
 * Topic routing, as Celery's celeryev exchange: a subscriber bound with 'X.task.*' gets the
 * task events and not the worker ones, 'X.worker.#' the reverse, 'X.#' both, each body exactly
 * once and byte for byte; a routing key under another word reaches none of them.
 */
export async function checkTopicRouting(clients: () => BroadcastCarrier, deliveryMs: number): Promise<void> {
  const word = `k${randomBytes(6).toString('hex')}`;
  const controller = new AbortController();
  const subscribe = (pattern: string) => clients().subscribe(kitTopicChannel, controller.signal, { kind: 'topic', pattern })[Symbol.asyncIterator]();
  const tasks = subscribe(`${word}.task.*`);
  const workers = subscribe(`${word}.worker.#`);
  const all = subscribe(`${word}.#`);
  const publisher = clients();
  const send = (routingKey: string, text: string) =>
    publisher.broadcast(kitTopicChannel, encoder.encode(text), { kind: 'topic', routingKey, headers: { hostname: 'kit@test' } });
  // No "ready" signal: warm each subscriber up with a key it matches until it hears one.
  const warm = (subscriber: AsyncIterator<Uint8Array>, routingKey: string) => warmUp(subscriber, () => send(routingKey, 'warm-up'), routingKey, deliveryMs);
  await warm(tasks, `${word}.task.warm`);
  await warm(workers, `${word}.worker.warm`);
  await warm(all, `${word}.all.warm`);
  await send(`other${word}.task.succeeded`, 'not for us');
  await send(`${word}.worker.heartbeat`, 'heartbeat 🐢');
  await send(`${word}.task.succeeded`, 'succeeded');
  await send(`${word}.task.multi.extra`, 'too many words for task.*');
  await send(`${word}.end`, 'end');
  const readUntil = (subscriber: AsyncIterator<Uint8Array>, last: string) => readTextsUntil(subscriber, last, deliveryMs);
  expect(await readUntil(all, 'end')).toEqual(['heartbeat 🐢', 'succeeded', 'too many words for task.*', 'end']);
  expect(await readUntil(workers, 'heartbeat 🐢')).toEqual(['heartbeat 🐢']);
  expect(await readUntil(tasks, 'succeeded')).toEqual(['succeeded']);
  // Nothing else may follow for the narrow bindings: a marker each matches proves the order.
  await send(`${word}.worker.marker`, 'worker marker');
  await send(`${word}.task.marker`, 'task marker');
  expect(await readUntil(workers, 'worker marker')).toEqual(['worker marker']);
  expect(await readUntil(tasks, 'task marker')).toEqual(['task marker']);
  controller.abort();
  await Promise.all([tasks, workers, all].map((s) => s.return?.()));
}

/**
 * Direct routing, as Celery's reply.celery.pidbox: a message reaches only the subscribers bound
 * with exactly its routing key, each through its own named queue; a key nobody is bound to
 * reaches nobody.
 */
export async function checkDirectRouting(clients: () => BroadcastCarrier, deliveryMs: number): Promise<void> {
  const channel = kitChannels.direct;
  const word = `k${randomBytes(6).toString('hex')}`;
  const controller = new AbortController();
  const subscribe = (key: string) =>
    clients().subscribe(channel, controller.signal, { kind: 'direct', pattern: key, queue: `${key}.${channel}` })[Symbol.asyncIterator]();
  const a = subscribe(`${word}-a`);
  const b = subscribe(`${word}-b`);
  const publisher = clients();
  const send = (routingKey: string, text: string) => publisher.broadcast(channel, encoder.encode(text), { kind: 'direct', routingKey, headers: { ticket: word } });
  const warm = (subscriber: AsyncIterator<Uint8Array>, routingKey: string) => warmUp(subscriber, () => send(routingKey, 'warm-up'), routingKey, deliveryMs);
  await warm(a, `${word}-a`);
  await warm(b, `${word}-b`);
  await send(`${word}-nobody`, 'to nobody');
  await send(`${word}-b`, 'for b');
  await send(`${word}-a`, 'for a 🐢');
  const readUntil = (subscriber: AsyncIterator<Uint8Array>, last: string) => readTextsUntil(subscriber, last, deliveryMs);
  expect(await readUntil(a, 'for a 🐢')).toEqual(['for a 🐢']);
  expect(await readUntil(b, 'for b')).toEqual(['for b']);
  controller.abort();
  await Promise.all([a, b].map((s) => s.return?.()));
}

/** Sends warm-ups until `subscriber` hears one (subscriptions have no "ready" signal). */
async function warmUp(subscriber: AsyncIterator<Uint8Array>, send: () => Promise<void>, routingKey: string, deliveryMs: number): Promise<void> {
  const first = subscriber.next();
  let heard = false;
  void first.then(() => (heard = true));
  const deadline = Date.now() + deliveryMs;
  while (!heard && Date.now() < deadline) {
    await send();
    await sleep(100);
  }
  expect(Buffer.from((await withTimeout(first, 1_000, `a warm-up on ${routingKey}`)).value!).toString()).toBe('warm-up');
}

/** The texts `subscriber` reads, warm-ups left out, up to and including `last`. */
async function readTextsUntil(subscriber: AsyncIterator<Uint8Array>, last: string, deliveryMs: number): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const next = await withTimeout(subscriber.next(), deliveryMs, `the message "${last}"`);
    const text = Buffer.from(next.value!).toString();
    if (text === 'warm-up') continue;
    seen.push(text);
    if (text === last) return seen;
  }
}
