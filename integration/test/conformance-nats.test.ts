/**
 * The kit on NATS JetStream: a stream and a KV bucket of its own for this run (deleted after),
 * and a short AckWait so redelivery tests finish quickly.
 */
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
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
    brokerUrl.searchParams.set('ackWaitMs', '3000');
    const backendUrl = new URL(url);
    backendUrl.searchParams.set('bucket', bucket);
    return { url: brokerUrl.href, resultBackendUrl: backendUrl.href };
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
