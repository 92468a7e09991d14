import type { Kafka } from 'kafkajs';
import type { KafkaOptions } from './options.js';

/**
 * Commits `offsets` for `groupId` as a short-lived member of it: commits need a member (the
 * mock cluster refuses admin.setOffsets too). Joining makes a group with live members rebalance
 * once. Used by purge.
 */
export async function commitAsMember(
  kafka: Kafka,
  options: Pick<KafkaOptions, 'sessionTimeoutMs' | 'heartbeatIntervalMs' | 'maxWaitTimeMs'>,
  groupId: string,
  topic: string,
  offsets: { topic: string; partition: number; offset: string }[],
): Promise<void> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: options.heartbeatIntervalMs,
    maxWaitTimeInMs: options.maxWaitTimeMs,
    allowAutoTopicCreation: false,
  });
  try {
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    // Reads nothing: offsets stay unresolved and the topic is paused at once.
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => undefined });
    consumer.pause([{ topic }]);
    await joined;
    await consumer.commitOffsets(offsets);
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}
