import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Delivery } from '@tq/core/adapter';
import type { NatsBroker } from '../src/index.js';
import { bodyText, createTestBroker, deleteStreams, newStreamName, nextWithin, rawConnection, take, taskMessage } from './support/broker.js';
import { uniqueName } from './support/names.js';

const stream = newStreamName();
const brokers: NatsBroker[] = [];
const aborts: AbortController[] = [];

function broker(params = ''): NatsBroker {
  const b = createTestBroker(stream, params);
  brokers.push(b);
  return b;
}

function consume(b: NatsBroker, queue: string, prefetch = 10): AsyncIterator<Delivery> {
  const controller = new AbortController();
  aborts.push(controller);
  return b.consume(queue, { prefetch, signal: controller.signal })[Symbol.asyncIterator]();
}

beforeAll(async () => {
  await deleteStreams(stream);
});

afterEach(async () => {
  for (const a of aborts.splice(0)) a.abort();
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

afterAll(async () => {
  await deleteStreams(stream);
});

describe('NatsBroker on a work-queue stream', () => {
  it('publishes, consumes and acks; an acked message leaves the stream', async () => {
    const b = broker();
    await b.connect();
    const queue = uniqueName('q');
    await b.publish(queue, taskMessage('t-1'));
    const [d] = await take(consume(b, queue), 1);
    expect(bodyText(d!)).toContain('t-1');
    expect(d!.message.headers['id']).toBe('t-1');
    expect(d!.redelivered).toBe(false);
    await d!.ack();
    const nc = await rawConnection();
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(stream, { subjects_filter: '>' });
      expect(info.state.subjects?.[b.subjects.queue(queue)] ?? 0).toBe(0);
    } finally {
      await nc.close();
    }
  });

  it('writes Celery headers and properties as two JSON NATS headers, and reads them back exactly', async () => {
    const b = broker();
    await b.connect();
    const queue = uniqueName('q');
    const message = taskMessage('t-wire', { timelimit: [null, 30], argsrepr: '(1, "é")', ignore_result: false, 'odd:key %': 1 });
    await b.publish(queue, message);
    const nc = await rawConnection();
    try {
      const jsm = await jetstreamManager(nc);
      const stored = await jsm.streams.getMessage(stream, { last_by_subj: b.subjects.queue(queue) });
      const h = stored!.header;
      expect(h.get('Celery-Headers')).toBe(
        '{"lang":"py","task":"tq.test","id":"t-wire","root_id":"t-wire","parent_id":null,"retries":0,"eta":null,' +
          '"timelimit":[null,30],"argsrepr":"(1, \\"\\u00e9\\")","ignore_result":false,"odd:key %":1}',
      );
      expect(h.get('Celery-Properties')).toBe('{"content_type":"application/json","content_encoding":"utf-8","correlation_id":"t-wire","priority":0,"delivery_mode":2}');
      expect(h.get('Nats-Msg-Id')).toMatch(/^t-wire:/);
    } finally {
      await nc.close();
    }
    const [d] = await take(consume(b, queue), 1);
    expect(d!.message.headers).toEqual(message.headers);
    expect(d!.message.properties).toEqual(message.properties);
    expect(d!.message.body).toEqual(message.body);
    await d!.ack();
  });

  it('escapes queue names NATS forbids in a subject token', async () => {
    const b = broker();
    await b.connect();
    for (const queue of [`celery.pidbox.${uniqueName('x')}`, `q ${uniqueName('ü')} *>/`]) {
      await b.publish(queue, taskMessage(queue));
      const [d] = await take(consume(b, queue), 1);
      expect(d!.message.headers['id']).toBe(queue);
      await d!.ack();
    }
  });

  it('drops a retried publish of the same message (same Nats-Msg-Id) but not a later re-publish', async () => {
    const b = broker();
    await b.connect();
    const queue = uniqueName('q');
    const message = taskMessage('t-dup');
    // Two attempts in flight with one message object = a retry racing a lost PubAck.
    await Promise.all([b.publish(queue, message), b.publish(queue, message)]);
    await b.publish(queue, message); // confirmed before: a deliberate re-publish is a new message
    const nc = await rawConnection();
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(stream, { subjects_filter: b.subjects.queue(queue) });
      expect(info.state.subjects?.[b.subjects.queue(queue)]).toBe(2);
    } finally {
      await nc.close();
    }
    expect(await b.purge(queue)).toBe(2);
  });

  it('holds at most `prefetch` unacked deliveries per consumer', async () => {
    const b = broker();
    await b.connect();
    const queue = uniqueName('q');
    for (let i = 0; i < 10; i++) await b.publish(queue, taskMessage(`p-${i}`));
    const it = consume(b, queue, 3);
    const first = await take(it, 3);
    expect(await nextWithin(it, 700)).toBe('none');
    const nc = await rawConnection();
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.consumers.info(stream, b.subjects.consumer(queue));
      expect(info.num_ack_pending).toBe(3);
    } finally {
      await nc.close();
    }
    await first[0]!.ack();
    const [fourth] = await take(it, 1);
    expect(fourth!.message.headers['id']).toBe('p-3');
    expect(await b.purge(queue)).toBeGreaterThan(0);
  });

  it('with no pull outstanding, a window settled in one turn asks for the next before its acks are written', async () => {
    // The acks of one moment go out together on the next turn (WriteBatch). Had the credit
    // waited for them, the next pull would leave after the acks and a worker that settles a
    // window at once would idle through each pull's round trip. The pull requests and acks
    // this client sends are seen, in its order, by a plain subscriber of their subjects.
    const b = broker();
    await b.connect();
    const queue = uniqueName('q');
    for (let i = 0; i < 8; i++) await b.publish(queue, taskMessage(`w-${i}`));
    const nc = await rawConnection();
    const seen: string[] = [];
    try {
      nc.subscribe(`$JS.API.CONSUMER.MSG.NEXT.${stream}.>`, { callback: () => void seen.push('pull') });
      nc.subscribe(`$JS.ACK.${stream}.>`, { callback: () => void seen.push('ack') });
      await nc.flush();
      const it = consume(b, queue, 4);
      const window = await take(it, 4);
      for (const d of window) void d.ack();
      const next = await take(it, 4);
      expect(next.map((d) => d.message.headers['id'])).toEqual(['w-4', 'w-5', 'w-6', 'w-7']);
      await Promise.all(next.map((d) => d.ack()));
      await nc.flush();
      expect(seen.slice(0, 6)).toEqual(['pull', 'pull', 'ack', 'ack', 'ack', 'ack']);
    } finally {
      await nc.close();
    }
  });

  it('setPrefetch widens the window of a live consumer (core holding ETA tasks)', async () => {
    const b = broker();
    await b.connect();
    const queue = uniqueName('q');
    for (let i = 0; i < 5; i++) await b.publish(queue, taskMessage(`w-${i}`));
    const controller = new AbortController();
    aborts.push(controller);
    const consumer = b.consume(queue, { prefetch: 1, signal: controller.signal });
    const it = consumer[Symbol.asyncIterator]();
    await take(it, 1);
    expect(await nextWithin(it, 500)).toBe('none');
    consumer.setPrefetch!(3);
    await take(it, 2);
    expect(await nextWithin(it, 500)).toBe('none');
    expect(await b.purge(queue)).toBe(5);
  });

  it('delivers in publish order to a single consumer', async () => {
    const b = broker();
    await b.connect();
    const queue = uniqueName('q');
    for (let i = 0; i < 20; i++) await b.publish(queue, taskMessage(`o-${i}`));
    const it = consume(b, queue, 5);
    const ids: unknown[] = [];
    for (let i = 0; i < 20; i++) {
      const [d] = await take(it, 1);
      ids.push(d!.message.headers['id']);
      await d!.ack();
    }
    expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => `o-${i}`));
  });

  it('shares one durable consumer between brokers: each message goes to one of them', async () => {
    const [a, c] = [broker(), broker()];
    await Promise.all([a.connect(), c.connect()]);
    const queue = uniqueName('q');
    const seen: string[] = [];
    const run = async (b: NatsBroker) => {
      const it = consume(b, queue, 4);
      for (;;) {
        const d = await nextWithin(it, 1500);
        if (d === 'none') return;
        seen.push(String(d.message.headers['id']));
        await d.ack();
      }
    };
    const workers = [run(a), run(c)];
    for (let i = 0; i < 40; i++) await a.publish(queue, taskMessage(`s-${i}`));
    await Promise.all(workers);
    expect(seen.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `s-${i}`).sort());
  });

  it('redelivers after AckWait, and extend() (in-progress) holds a long task', async () => {
    const b = broker('ackWaitMs=1000');
    await b.connect();
    const queue = uniqueName('q');
    expect(b.capabilities.redeliveryWindowMs).toBe(1000);
    await b.publish(queue, taskMessage('slow'));
    // prefetch 2: the redelivery needs a free slot while the first delivery is still held.
    const it = consume(b, queue, 2);
    const [first] = await take(it, 1);
    let redeliveredEarly = false;
    const pending = it.next().then((r) => {
      redeliveredEarly = true;
      return r;
    });
    // Kept alive for 2.4 x AckWait: no redelivery.
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 400));
      await first!.extend!();
    }
    expect(redeliveredEarly).toBe(false);
    // Not settled and not extended any more: back after AckWait.
    const started = Date.now();
    const again = (await pending).value as Delivery;
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    expect(again!.message.headers['id']).toBe('slow');
    expect(again!.redelivered).toBe(true);
    await again!.ack();
    await first!.ack(); // late ack from the old owner: a no-op for the server, no throw
  });

  it('keeps consuming when its durable consumer is deleted under it (re-created)', async () => {
    const b = broker();
    await b.connect();
    const queue = uniqueName('q');
    const it = consume(b, queue, 2);
    await b.publish(queue, taskMessage('before'));
    const [first] = await take(it, 1);
    await first!.ack();
    const nc = await rawConnection();
    try {
      await (await jetstreamManager(nc)).consumers.delete(stream, b.subjects.consumer(queue));
    } finally {
      await nc.close();
    }
    await b.publish(queue, taskMessage('after'));
    const [second] = await take(it, 1, 15_000);
    expect(second!.message.headers['id']).toBe('after');
    await second!.ack();
  });

  it('reject(true) naks for immediate redelivery', async () => {
    const b = broker();
    await b.connect();
    const queue = uniqueName('q');
    await b.publish(queue, taskMessage('nak'));
    const it = consume(b, queue, 1);
    const [d] = await take(it, 1);
    const started = Date.now();
    await d!.reject(true);
    const [again] = await take(it, 1, 5000);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(again!.redelivered).toBe(true);
    await again!.ack();
  });

  it('a task due centuries ahead (ETA 9999) waits naked, not redelivered in a loop (the nak delay is capped below the server\'s int64 ns)', async () => {
    const b = broker();
    await b.connect();
    const queue = uniqueName('q');
    await b.publish(queue, { ...taskMessage('far'), notBefore: Date.parse('9999-12-31T23:59:59Z') });
    await b.publish(queue, taskMessage('now'));
    const it = consume(b, queue, 4);
    const [now] = await take(it, 1);
    expect(bodyText(now!)).toContain('now');
    await now!.ack();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const nc = await rawConnection();
    try {
      const jsm = await jetstreamManager(nc);
      const route = b.subjects.route(queue); // this queue's durable: the stream is shared with the other tests
      const info = await jsm.consumers.info(route.stream, route.consumer);
      expect(info.delivered.consumer_seq).toBeLessThan(10); // the overflowed delay redelivered thousands a second
    } finally {
      await nc.close();
    }
  });

  it('close() gives unacked deliveries back at once, not after AckWait', async () => {
    const a = broker();
    await a.connect();
    const queue = uniqueName('q');
    await a.publish(queue, taskMessage('held'));
    await take(consume(a, queue, 1), 1);
    await a.close();
    const c = broker();
    await c.connect();
    const started = Date.now();
    const [d] = await take(consume(c, queue, 1), 1, 8000);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(d!.redelivered).toBe(true);
    await d!.ack();
  });

  it('purges a queue without touching another', async () => {
    const b = broker();
    await b.connect();
    const [q1, q2] = [uniqueName('q'), uniqueName('q')];
    for (let i = 0; i < 3; i++) await b.publish(q1, taskMessage(`a-${i}`));
    await b.publish(q2, taskMessage('b'));
    expect(await b.purge(q1)).toBe(3);
    expect(await b.purge(q1)).toBe(0);
    const [d] = await take(consume(b, q2), 1);
    expect(d!.message.headers['id']).toBe('b');
    await d!.ack();
  });

  it('broadcasts over core NATS to every subscriber', async () => {
    const [a, c] = [broker(), broker()];
    await Promise.all([a.connect(), c.connect()]);
    const channel = uniqueName('ch');
    const controller = new AbortController();
    aborts.push(controller);
    const subs = [a.subscribe(channel, controller.signal), c.subscribe(channel, controller.signal)].map((s) => s[Symbol.asyncIterator]());
    await a.connection!.flush();
    await c.connection!.flush();
    await a.broadcast(channel, new TextEncoder().encode('revoke'));
    for (const s of subs) {
      const r = await s.next();
      expect(new TextDecoder().decode(r.value!)).toBe('revoke');
    }
  });
});
