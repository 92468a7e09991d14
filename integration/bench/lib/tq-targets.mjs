// How tq is configured on each broker for a run, and how the run's leftovers are removed.
// Results, when stored, go to Redis (db 13) for the brokers without a backend of their own
// (RabbitMQ's rpc:// only answers the caller; Kafka has none) and to the JetStream KV for NATS.
import { createApp } from '@tq/core';
import { Redis } from 'ioredis';
import { amqpUrl, natsUrl, openKafka, redisBrokerUrl, redisResultUrl } from './endpoints.mjs';
import { runInFlight, uniqueName } from './measure.mjs';
import { noopTask, resultKey, taskArgs } from './payload.mjs';

/** Deletes every key of db `url` whose name contains `marker` (bench keys carry a random marker). */
export async function deleteRedisKeys(url, marker) {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${marker}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}

/** Deletes the result records of `ids` from a Redis result database. */
export async function deleteRedisResults(url, ids) {
  if (ids.length === 0) return;
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  for (let i = 0; i < ids.length; i += 1000) await redis.del(...ids.slice(i, i + 1000).map(resultKey));
  await redis.quit();
}

export async function deleteAmqpQueue(queue) {
  const amqplib = await import('amqplib');
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createChannel();
  await channel.deleteQueue(queue);
  await channel.deleteExchange(queue);
  await connection.close();
}

export async function deleteNatsStreams(names) {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: new URL(natsUrl).host });
  const jsm = await jetstreamManager(nc);
  for (const name of names) await jsm.streams.delete(name).catch(() => undefined);
  await nc.close();
}

/** A tq app on `target` (from tqTarget) with the no-op bench task registered, logs off. */
export function openTqApp(target) {
  const app = createApp({
    broker: target.brokerUrl,
    resultBackend: target.resultUrl,
    adapters: target.adapters,
    brokerOptions: target.brokerOptions,
    logLevel: 'silent',
  });
  app.task(noopTask, () => null);
  return app;
}

/**
 * Enqueues `count` no-op tasks of the bench's shape on `target`, `window` sends in flight, from a
 * producer of its own (closed before it returns). Returns the task ids (none when `ignoreResult`:
 * no record to clean up) and the ms it took.
 */
export async function fillQueue(target, { count, window, ignoreResult }) {
  const ids = [];
  const producer = openTqApp(target);
  try {
    const fillMs = await runInFlight(count, window, async (i) => {
      const sent = await producer.sendTask(noopTask, taskArgs(i), {}, { queue: target.queue, ignoreResult });
      if (!ignoreResult) ids.push(sent.id);
    });
    return { ids, fillMs };
  } finally {
    await producer.close();
  }
}

/**
 * tq's settings for `broker`: { brokerUrl, resultUrl, adapters, brokerOptions, queue, cleanup(ids) }.
 * Every run gets a fresh queue (and stream, bucket or cluster) of its own.
 */
export async function tqTarget(broker, { partitions = 1, queue = uniqueName('tqbench.') } = {}) {
  const marker = queue.slice('tqbench.'.length);
  switch (broker) {
    case 'redis': {
      const { default: redisAdapter } = await import('@tq/redis');
      return {
        queue,
        brokerUrl: redisBrokerUrl,
        resultUrl: redisResultUrl,
        adapters: [redisAdapter],
        brokerOptions: {},
        cleanup: async (ids) => {
          await deleteRedisKeys(redisBrokerUrl, marker);
          await deleteRedisResults(redisResultUrl, ids);
        },
      };
    }
    case 'amqp': {
      const [{ default: amqpAdapter }, { default: redisAdapter }] = await Promise.all([import('@tq/amqp'), import('@tq/redis')]);
      return {
        queue,
        brokerUrl: amqpUrl,
        resultUrl: redisResultUrl,
        adapters: [amqpAdapter, redisAdapter],
        brokerOptions: {},
        cleanup: async (ids) => {
          await deleteAmqpQueue(queue);
          await deleteRedisResults(redisResultUrl, ids);
        },
      };
    }
    case 'nats': {
      const { default: natsAdapter } = await import('@tq/nats');
      const stream = `TQBENCH_${marker}`;
      const bucket = `tqbench_${marker}`;
      return {
        queue,
        brokerUrl: `${natsUrl}?stream=${stream}`,
        resultUrl: `${natsUrl}?bucket=${bucket}`,
        adapters: [natsAdapter],
        brokerOptions: {},
        cleanup: () => deleteNatsStreams([stream, `${stream}_DLQ`, `KV_${bucket}`]),
      };
    }
    case 'kafka': {
      const [{ default: kafkaAdapter }, { default: redisAdapter }] = await Promise.all([import('@tq/kafka'), import('@tq/redis')]);
      const kafka = await openKafka();
      return {
        queue,
        brokerUrl: partitions > 1 ? `${kafka.url}&partitions=${partitions}` : kafka.url,
        resultUrl: redisResultUrl,
        adapters: [kafkaAdapter, redisAdapter],
        brokerOptions: kafka.createTopic ? { createTopic: kafka.createTopic } : {},
        cleanup: async (ids) => {
          await kafka.stop();
          await deleteRedisResults(redisResultUrl, ids);
        },
      };
    }
    default:
      throw new Error(`unknown broker ${broker}`);
  }
}
