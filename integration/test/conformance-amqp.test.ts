/** The kit on RabbitMQ, with the rpc:// result backend; every queue the kit declares is deleted after its test. */
import { connect } from 'amqplib';
import { runConformance } from '../harness/run-conformance.js';

await runConformance({
  broker: 'amqp',
  packageName: '@tq/amqp',
  load: () => import('@tq/amqp'),
  configure: ({ url }) => ({
    url,
    resultBackendUrl: url.replace(/^amqps?:/, 'rpc:'),
    deleteQueues: async (names) => {
      const connection = await connect(url);
      try {
        for (const name of names) {
          // A failed delete closes its channel: one channel per operation.
          for (const kind of ['queue', 'exchange'] as const) {
            const channel = await connection.createChannel();
            channel.on('error', () => undefined);
            try {
              if (kind === 'queue') await channel.deleteQueue(name);
              else await channel.deleteExchange(name);
              await channel.close();
            } catch {
              // Already gone.
            }
          }
        }
      } finally {
        await connection.close();
      }
    },
  }),
});
