/**
 * The kit on RabbitMQ with Celery's default declarations (no x-max-priority, no dead-lettering)
 * and the rpc:// result backend; every queue the kit declares is deleted after its test.
 * conformance-amqp-features.test.ts covers priority and dead letters.
 */
import { runConformance } from '../harness/run-conformance.js';
import { deleteAmqpQueues } from '../harness/amqp-cleanup.js';

await runConformance({
  broker: 'amqp',
  packageName: '@tq/amqp',
  load: () => import('@tq/amqp'),
  configure: ({ url }) => ({
    url,
    resultBackendUrl: url.replace(/^amqps?:/, 'rpc:'),
    deleteQueues: (names) => deleteAmqpQueues(url, names),
    liveness: { query: { heartbeat: '1', confirmTimeout: '2000', connectTimeout: '2000' }, detectionMs: 4_000 },
  }),
});
