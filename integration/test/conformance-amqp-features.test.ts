/**
 * RabbitMQ with the optional capabilities on (?maxPriority=10&deadLetter=1): the kit groups they
 * change — ordering (priority) and ack/reject (dead letters to "<queue>.dead").
 */
import { describeAckReject, describeOrdering } from '@tq/conformance';
import { describe } from 'vitest';
import { runConformance } from '../harness/run-conformance.js';
import { deleteAmqpQueues } from '../harness/amqp-cleanup.js';

await runConformance({
  broker: 'amqp',
  packageName: '@tq/amqp',
  load: () => import('@tq/amqp'),
  configure: ({ url }) => {
    const withFeatures = new URL(url);
    withFeatures.searchParams.set('maxPriority', '10');
    withFeatures.searchParams.set('deadLetter', '1');
    return { url: withFeatures.href, deleteQueues: (names) => deleteAmqpQueues(url, names) };
  },
  register: (adapter, options) => {
    const factory = (url: URL) => adapter.createBroker!(url, options.adapterOptions ?? {});
    describe('broker', () => {
      describeOrdering(factory, options);
      describeAckReject(factory, options);
    });
  },
});
