/**
 * The whole tq conformance kit against NATS JetStream. Each run uses its own stream and KV
 * bucket (deleted afterwards), so it can share a server with other runs. AckWait is 10 s (the
 * default is 30 s) so the redelivery-window tests stay short, yet a loaded machine does not
 * trip it; faults (cut connection, outage, restart) go through the kit's TCP proxy.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { describeAdapter } from '@tq/conformance';
import { afterAll } from 'vitest';
import natsAdapter, { Subjects } from '../src/index.js';
import { deleteStreams, newStreamName, rawConnection } from './support/broker.js';
import { sharedNatsUrl, uniqueName } from './support/names.js';

const stream = newStreamName();
const bucket = uniqueName('tqtest');
const subjects = new Subjects(stream);

describeAdapter(natsAdapter, {
  url: `${sharedNatsUrl}?stream=${stream}&ackWaitMs=10000`,
  resultBackendUrl: `${sharedNatsUrl}?bucket=${bucket}`,
  // Durable consumers outlive their readers: remove the kit's after each test.
  deleteQueues: async (queues) => {
    const nc = await rawConnection();
    try {
      const jsm = await jetstreamManager(nc);
      for (const queue of queues) {
        const route = subjects.route(queue);
        await jsm.consumers.delete(route.stream, route.consumer).catch(() => undefined);
        await jsm.streams.purge(route.stream, { filter: route.subject }).catch(() => undefined);
      }
    } finally {
      await nc.close();
    }
  },
});

afterAll(async () => {
  await deleteStreams(stream);
  const nc = await rawConnection();
  try {
    await (await new Kvm(nc).open(bucket)).destroy().catch(() => undefined);
  } finally {
    await nc.close();
  }
}, 30_000);
