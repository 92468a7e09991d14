/**
 * The kit on Kafka: TQ_TEST_KAFKA_BROKERS, a KRaft container, or librdkafka's mock cluster
 * (integration/kafka-mock). The mock has no CreateTopics API, so the harness passes its topic
 * creator as the adapter's `createTopic` option.
 */
import { runConformance } from '../harness/run-conformance.js';

await runConformance({
  broker: 'kafka',
  packageName: '@tq/kafka',
  load: () => import('@tq/kafka'),
  configure: ({ url }) => ({ url }),
});
