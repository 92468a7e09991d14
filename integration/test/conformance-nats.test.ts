/**
 * The kit on NATS JetStream: a stream and a KV bucket of its own for this run (deleted after).
 * AckWait is 10 s (the default is 30 s): short enough for the redelivery-window tests, long
 * enough that a loaded CI machine does not trip it. Durable consumers outlive their readers, so
 * the kit's are removed after each test.
 */
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Subjects } from '@tq/nats';
import { runConformance } from '../harness/run-conformance.js';

const run = randomBytes(4).toString('hex').toUpperCase();
const stream = `TQCINT${run}`;
const bucket = `tqc-int-${run.toLowerCase()}`;

await runConformance({
  broker: 'nats',
  packageName: '@tq/nats',
  load: () => import('@tq/nats'),
  configure: ({ url }) => {
    // Broker and result backend take different parameters: one URL each.
    const brokerUrl = new URL(url);
    brokerUrl.searchParams.set('stream', stream);
    brokerUrl.searchParams.set('ackWaitMs', '10000');
    // A stopped consumer holding deliveries gives them back once its open pull ends on the server
    // (up to pullExpiresMs, see queue-consumer.ts stop()). AckWait is cut from 30 s to 10 s here to
    // keep redelivery tests short, so the pull is cut in proportion (defaults: 5 s of 30 s).
    brokerUrl.searchParams.set('pullExpiresMs', '2500');
    const backendUrl = new URL(url);
    backendUrl.searchParams.set('bucket', bucket);
    const subjects = new Subjects(stream);
    const deleteQueues = async (queues: readonly string[]) => {
      const nc = await connect({ servers: brokerUrl.host });
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
    };
    return {
      url: brokerUrl.href,
      resultBackendUrl: backendUrl.href,
      deleteQueues,
      // JetStream's request timeout (5 s) bounds a publish on a silent connection.
      liveness: { query: { pingIntervalMs: '1000', maxPingOut: '2', connectTimeoutMs: '2000' }, detectionMs: 6_000 },
    };
  },
  cleanup: async ({ url }) => {
    const nc = await connect({ servers: new URL(url).host });
    try {
      const jsm = await jetstreamManager(nc);
      for (const name of [stream, `${stream}_DLQ`, `KV_${bucket}`]) await jsm.streams.delete(name).catch(() => undefined);
    } finally {
      await nc.close();
    }
  },
});
