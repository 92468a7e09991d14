import { jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Delivery } from '@tq/core/adapter';
import { deadQueueHeader, deadReasonHeader, type NatsBroker } from '../src/index.js';
import { createTestBroker, deleteStreams, newStreamName, nextWithin, rawConnection, take, taskMessage } from './support/broker.js';
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

/** The dead letters of `queue`, read straight from the <stream>_DLQ stream. */
async function deadLetters(b: NatsBroker, queue: string, expected: number): Promise<StoredMsg[]> {
  const nc = await rawConnection();
  try {
    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + 5000;
    for (;;) {
      const info = await jsm.streams.info(`${stream}_DLQ`, { subjects_filter: b.subjects.deadLetter(queue) });
      const count = info.state.subjects?.[b.subjects.deadLetter(queue)] ?? 0;
      if (count >= expected || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const out: StoredMsg[] = [];
    const info = await jsm.streams.info(`${stream}_DLQ`);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && seq > 0; seq++) {
      const m = await jsm.streams.getMessage(`${stream}_DLQ`, { seq }).catch(() => null);
      if (m && m.subject === b.subjects.deadLetter(queue)) out.push(m);
    }
    return out;
  } finally {
    await nc.close();
  }
}

async function queueDepth(b: NatsBroker, queue: string): Promise<number> {
  const nc = await rawConnection();
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream, { subjects_filter: b.subjects.queue(queue) });
    return info.state.subjects?.[b.subjects.queue(queue)] ?? 0;
  } finally {
    await nc.close();
  }
}

afterEach(async () => {
  for (const a of aborts.splice(0)) a.abort();
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

afterAll(async () => {
  await deleteStreams(stream);
});

describe('dead letters (<stream>_DLQ)', () => {
  it('reject(false) moves the message to the dead-letter stream with its headers, body and reason', async () => {
    const b = broker();
    await b.connect();
    const queue = uniqueName('q');
    const message = taskMessage('dead-1');
    await b.publish(queue, message);
    const [d] = await take(consume(b, queue), 1);
    await d!.reject(false);
    const [dead] = await deadLetters(b, queue, 1);
    expect(dead).toBeDefined();
    expect(dead!.header.get(deadReasonHeader)).toMatch(/rejected/);
    expect(dead!.header.get(deadQueueHeader)).toBe(queue);
    expect(JSON.parse(dead!.header.get('Celery-Headers')).id).toBe('dead-1');
    expect(new Uint8Array(dead!.data)).toEqual(message.body);
    expect(await queueDepth(b, queue)).toBe(0);
  });

  it('after maxDeliver deliveries (naks) the next one is dead-lettered instead of handed out, with a log line', async () => {
    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined };
    const b = createTestBroker(stream, 'maxDeliver=2', undefined, { logger });
    brokers.push(b);
    await b.connect();
    const queue = uniqueName('q');
    await b.publish(queue, taskMessage('poison'));
    const it = consume(b, queue, 1);
    for (let i = 0; i < 2; i++) {
      const [d] = await take(it, 1);
      await d!.reject(true);
    }
    expect(await nextWithin(it, 1000)).toBe('none');
    const [dead] = await deadLetters(b, queue, 1);
    expect(dead!.header.get(deadReasonHeader)).toMatch(/delivered 2 times without an ack \(maxDeliver=2\)/);
    expect(await queueDepth(b, queue)).toBe(0);
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`nats: a message on ${queue} was moved to the dead-letter stream: delivered 2 times`))]);
  });

  it('counts AckWait expiries as deliveries too', async () => {
    const b = broker('maxDeliver=1&ackWaitMs=500');
    await b.connect();
    const queue = uniqueName('q');
    await b.publish(queue, taskMessage('abandoned'));
    const it = consume(b, queue, 2);
    await take(it, 1); // never settled
    expect(await nextWithin(it, 1500)).toBe('none');
    const [dead] = await deadLetters(b, queue, 1);
    expect(dead!.header.get(deadReasonHeader)).toMatch(/delivered 1 times/);
  });

  it('the dead-letter queue "<queue>.dead" is consumable and purgeable like any queue', async () => {
    const b = broker();
    await b.connect();
    const queue = uniqueName('q');
    await b.publish(queue, taskMessage('dead-2'));
    const [d] = await take(consume(b, queue), 1);
    await d!.reject(false);
    const dlq = consume(b, `${queue}.dead`);
    const [dead] = await take(dlq, 1);
    expect(dead!.message.headers['id']).toBe('dead-2');
    await dead!.ack();
    await b.publish(`${queue}.dead`, taskMessage('dead-3'));
    expect(await b.purge(`${queue}.dead`)).toBeGreaterThanOrEqual(1);
  });
});
