import { isTqError, RuntimeBroker, type Broker } from '@tq/core/adapter';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafka, { delayTopic, topicForQueue } from '../src/index.js';
import { commitAsMember } from '../src/group-commit.js';
import { decodeMetadata } from '../src/offset-tracker.js';
import { ConnectionCutter, startTestCluster, type TestCluster } from './support/cluster.js';
import { eventually, idOf, Reader, taskMessage, uniqueQueue } from './support/deliveries.js';

// Kafka-specific behaviour against a real Kafka wire protocol: librdkafka's mock cluster, or
// the cluster in TQ_TEST_KAFKA_BROKERS.
describe('KafkaBroker', () => {
  let cluster: TestCluster;
  const brokers: Broker[] = [];
  const cutter = new ConnectionCutter();

  const open = (extraParams = '', options = {}): Broker => {
    const url = new URL(cluster.url + extraParams);
    const broker = cutter.createBroker(url, { ...cluster.adapterOptions, ...options });
    brokers.push(broker);
    return broker;
  };
  const rawClient = () => new Kafka({ brokers: cluster.url.replace(/^kafka:\/\/([^?]+).*$/, '$1').split(','), logLevel: logLevel.NOTHING });

  async function committedOf(groupId: string, topic: string): Promise<{ offset: string; metadata: string | null }> {
    const admin = rawClient().admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const partition = committed!.partitions.find((p) => p.partition === 0)!;
      return { offset: partition.offset, metadata: partition.metadata };
    } finally {
      await admin.disconnect();
    }
  }

  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await Promise.allSettled(brokers.map((b) => b.close()));
    await cluster?.stop();
  });

  it('round-trips body, Celery headers and properties byte-exactly through Kafka', async () => {
    const queue = uniqueQueue('roundtrip');
    const broker = open();
    await broker.connect();
    const sent = {
      body: new Uint8Array(Array.from({ length: 256 }, (_, i) => i)),
      headers: { id: 'r1', task: 'x', timelimit: [null, 1.5], nested: { a: [1, 'ü', null] }, eta: null },
      properties: { contentType: 'application/x-bin', contentEncoding: 'binary', correlationId: 'r1', replyTo: 'reply', priority: 3, deliveryMode: 2 as const },
    };
    await broker.publish(queue, sent);
    const reader = new Reader(broker, queue, 1);
    const [got] = await reader.take(1);
    expect(got!.message.body).toEqual(sent.body);
    expect(got!.message.headers).toStrictEqual(sent.headers);
    expect(got!.message.properties).toStrictEqual(sent.properties);
    expect(got!.redelivered).toBe(false);
    await got!.ack();
    reader.stop();
  });

  it('a crash mid-batch redelivers exactly the unfinished messages, flagged redelivered', async () => {
    const queue = uniqueQueue('crash');
    const publisher = open();
    await publisher.connect();
    const ids = Array.from({ length: 10 }, (_, i) => `c${i}`);
    for (const id of ids) await publisher.publish(queue, taskMessage(id));

    const victim = open();
    await victim.connect();
    const doomed = new Reader(victim, queue, 10);
    const held = await doomed.take(10);
    expect(held.map(idOf)).toEqual(ids);
    const finished = new Set(['c0', 'c1', 'c3', 'c4', 'c7']);
    await Promise.all(held.filter((d) => finished.has(idOf(d))).map((d) => d.ack()));
    // Commits run in the background: crash once they landed (offset 2, 3/4/7 in the metadata).
    await eventually(async () => {
      const { offset, metadata } = await committedOf(`tq.${queue}`, topicForQueue(queue));
      expect(offset).toBe('2');
      expect(decodeMetadata(2n, metadata).doneAhead).toEqual([3n, 4n, 7n]);
    });
    cutter.cut(victim); // no goodbye: sockets die, reconnects are refused

    const survivor = open();
    await survivor.connect();
    const reader = new Reader(survivor, queue, 10);
    const back = await reader.take(5, 40_000);
    expect(back.map(idOf)).toEqual(['c2', 'c5', 'c6', 'c8', 'c9']);
    expect(back.every((d) => d.redelivered)).toBe(true);
    await Promise.all(back.map((d) => d.ack()));
    expect(await reader.poll(1_000), 'a finished message came back').toBeUndefined();
    reader.stop();
    await survivor.close();

    await eventually(async () => expect((await committedOf(`tq.${queue}`, topicForQueue(queue))).offset).toBe('10'));
  }, 60_000);

  it('close hands unsettled deliveries to the next consumer and keeps finished ones finished', async () => {
    const queue = uniqueQueue('close');
    const first = open();
    await first.connect();
    for (const id of ['a', 'b', 'c', 'd']) await first.publish(queue, taskMessage(id));
    const reader = new Reader(first, queue, 4);
    const held = await reader.take(4);
    await held[1]!.ack();
    await held[3]!.reject(false);
    await first.close();
    const second = open();
    await second.connect();
    const next = new Reader(second, queue, 4);
    const back = await next.take(2);
    expect(back.map(idOf)).toEqual(['a', 'c']);
    expect(await next.poll(1_000)).toBeUndefined();
    await Promise.all(back.map((d) => d.ack()));
    next.stop();
  }, 40_000);

  it('never holds more than prefetch unsettled deliveries', async () => {
    const queue = uniqueQueue('prefetch');
    const broker = open();
    await broker.connect();
    for (let i = 0; i < 6; i++) await broker.publish(queue, taskMessage(`p${i}`));
    const reader = new Reader(broker, queue, 2);
    const first = await reader.take(2);
    expect(await reader.poll(1_500), 'a third delivery while two are unsettled').toBeUndefined();
    await first[0]!.ack();
    const third = await reader.take(1);
    expect(idOf(third[0]!)).toBe('p2');
    expect(await reader.poll(800)).toBeUndefined();
    reader.stop();
  });

  it('reject(false) appends the message to the dead-letter topic "<topic>.dead", marked with its origin', async () => {
    const queue = uniqueQueue('dead');
    const broker = open();
    await broker.connect();
    await broker.publish(queue, taskMessage('d1'));
    const reader = new Reader(broker, queue, 1);
    const [delivery] = await reader.take(1);
    await delivery!.reject(false);
    expect(await reader.poll(1_000)).toBeUndefined();
    reader.stop();

    const consumer = rawClient().consumer({ groupId: `raw-${queue}`, maxWaitTimeInMs: 50 });
    await consumer.connect();
    await consumer.subscribe({ topic: `${topicForQueue(queue)}.dead`, fromBeginning: true });
    const raw = await new Promise<{ headers: Record<string, unknown>; value: Buffer | null }>((resolve) => {
      void consumer.run({ eachMessage: async ({ message }) => resolve({ headers: message.headers ?? {}, value: message.value }) });
    });
    await consumer.disconnect();
    expect(String(raw.headers['tq-dead-letter-from'])).toBe(topicForQueue(queue));
    expect(JSON.parse(String(raw.headers.tq)).headers.id).toBe('d1');
    expect(raw.value).toEqual(Buffer.from(taskMessage('d1').body));
  }, 40_000);

  it('reject(true) republishes a copy flagged redelivered and finishes the original', async () => {
    const queue = uniqueQueue('requeue');
    const broker = open();
    await broker.connect();
    await broker.publish(queue, taskMessage('q1'));
    await broker.publish(queue, taskMessage('q2'));
    const reader = new Reader(broker, queue, 1);
    const [first] = await reader.take(1);
    expect(first!.redelivered).toBe(false);
    await first!.reject(true);
    const [second] = await reader.take(1);
    expect(idOf(second!)).toBe('q2');
    await second!.ack();
    const [again] = await reader.take(1);
    expect(idOf(again!)).toBe('q1');
    expect(again!.redelivered).toBe(true);
    await again!.ack();
    expect(await reader.poll(800)).toBeUndefined();
    reader.stop();
  });

  it('spreads a multi-partition queue over one consumer, committing per partition', async () => {
    const queue = uniqueQueue('parts');
    const broker = open('&partitions=3');
    expect(broker.capabilities.fifo).toBe(false);
    await broker.connect();
    for (let i = 0; i < 30; i++) await broker.publish(queue, taskMessage(`m${i}`));
    const reader = new Reader(broker, queue, 8);
    const got = new Set<string>();
    while (got.size < 30) {
      const [delivery] = await reader.take(1);
      got.add(idOf(delivery!));
      await delivery!.ack();
    }
    expect(await reader.poll(800)).toBeUndefined();
    await eventually(async () => {
      const admin = rawClient().admin();
      await admin.connect();
      const [committed] = await admin.fetchOffsets({ groupId: `tq.${queue}`, topics: [topicForQueue(queue)] });
      const ends = await admin.fetchTopicOffsets(topicForQueue(queue));
      await admin.disconnect();
      expect(ends.length).toBe(3);
      for (const end of ends) expect(committed!.partitions.find((p) => p.partition === end.partition)!.offset).toBe(end.high);
    });
    reader.stop();
  }, 40_000);

  it('purge skips what the queue has not consumed yet and returns the count', async () => {
    const queue = uniqueQueue('purge');
    const broker = open();
    await broker.connect();
    for (const id of ['x', 'y', 'z']) await broker.publish(queue, taskMessage(id));
    expect(await broker.purge!(queue)).toBe(3);
    expect(await broker.purge!(queue)).toBe(0);
    await broker.publish(queue, taskMessage('after'));
    const reader = new Reader(broker, queue, 5);
    const [delivery] = await reader.take(1);
    expect(idOf(delivery!)).toBe('after');
    await delivery!.ack();
    reader.stop();
  });

  it("a queue's delay forwarder starts where the fleet-wide delay group of an earlier tq got to, not at the beginning", async () => {
    const prefix = `legacy${Date.now() % 1_000_000}.`;
    const queue = uniqueQueue('legacy-delay');
    const broker = open(`&groupIdPrefix=${prefix}`);
    await broker.connect();
    const delayed = (id: string) => ({ ...taskMessage(id), notBefore: Date.now() + 1_500 });
    // Already forwarded by the old group "<prefix>delay": it committed past it.
    await broker.publish(queue, delayed('forwarded-before'));
    const level = delayTopic(1_000);
    const admin = rawClient().admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(level);
    await admin.disconnect();
    await commitAsMember(rawClient(), { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, maxWaitTimeMs: 50 }, `${prefix}delay`, level, ends.map(({ partition, high }) => ({ topic: level, partition, offset: high })));
    await broker.publish(queue, delayed('still-waiting'));

    const reader = new Reader(broker, queue, 5);
    const [delivery] = await reader.take(1, 30_000);
    expect(idOf(delivery!)).toBe('still-waiting');
    await delivery!.ack();
    expect(await reader.poll(3_000), 'a record the old group had forwarded was forwarded again').toBeUndefined();
    reader.stop();
  }, 60_000);

  it('publishes many concurrent messages in coalesced requests, each promise settling', async () => {
    const queue = uniqueQueue('burst');
    const broker = open();
    await broker.connect();
    await Promise.all(Array.from({ length: 500 }, (_, i) => broker.publish(queue, taskMessage(`b${i}`))));
    const admin = rawClient().admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topicForQueue(queue));
    await admin.disconnect();
    expect(ends.reduce((sum, p) => sum + Number(p.high), 0)).toBe(500);
  });

  it('liveness: a publish on a silent connection rejects with BrokerConnectionError within requestTimeoutMs, and succeeds again after the heal', async () => {
    const queue = uniqueQueue('silent');
    const broker = open('&requestTimeoutMs=2000&connectionTimeoutMs=1000');
    await broker.connect();
    await broker.publish(queue, taskMessage('before'));
    const silence = cutter.silence(broker);
    const started = Date.now();
    const error = await broker.publish(queue, taskMessage('during')).then(
      () => undefined,
      (e: unknown) => e,
    );
    const tookMs = Date.now() - started;
    expect(isTqError(error, 'TQ_BROKER_UNAVAILABLE'), `expected BrokerConnectionError, got ${String(error)}`).toBe(true);
    expect(tookMs).toBeLessThan(2_000 + 1_500);
    silence.heal();
    await eventually(() => broker.publish(queue, taskMessage('after')), 20_000);
  }, 60_000);

  it('an unreachable cluster is a BrokerConnectionError whose message hides the password', async () => {
    const broker = kafka.createBroker!(new URL('kafka://alice:hunter2@127.0.0.1:1?connectionTimeoutMs=300&idempotent=false'), {});
    const error = await broker.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    await broker.close();
    expect(isTqError(error, 'TQ_BROKER_UNAVAILABLE')).toBe(true);
    expect((error as Error).name).toBe('BrokerConnectionError');
    expect(String((error as Error).message)).not.toContain('hunter2');
  });

  it.runIf(process.env.TQ_TEST_KAFKA_BROKERS === undefined)('declares the mock cluster gaps with typed errors (no InitProducerId, no CreateTopics)', async () => {
    const idempotent = kafka.createBroker!(new URL(cluster.url.replace('idempotent=false', 'idempotent=true')), cluster.adapterOptions);
    const error = await idempotent.connect().then(() => undefined, (e: unknown) => e);
    await idempotent.close();
    expect(isTqError(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/idempotent/);

    const admin = new RuntimeBroker(kafka.createBroker!(new URL(cluster.url), {}), { retry: { maxRetries: 0, initialDelayMs: 1, maxDelayMs: 1 } });
    const created = await admin.publish(uniqueQueue('nocreate'), taskMessage('n')).then(() => undefined, (e: unknown) => e);
    await admin.close();
    expect(isTqError(created)).toBe(true);
    expect(String((created as Error).message)).toMatch(/creating topic/);
  });
});
