import { createHash } from 'node:crypto';

const legal = /^[A-Za-z0-9._-]$/;
const maxTopicLength = 249;

/**
 * The Kafka topic that holds queue `queue`. Kafka allows [A-Za-z0-9._-] up to 249 characters:
 * each other character becomes "_" + its UTF-8 bytes in hex (a queue named "a b" is topic
 * "a_20b"); an over-long name is cut and ends with a hash of the whole so names stay distinct.
 */
export function topicForQueue(queue: string): string {
  let topic = '';
  for (const char of queue) {
    if (legal.test(char)) topic += char;
    else topic += '_' + Buffer.from(char, 'utf8').toString('hex');
  }
  // "." and ".." are reserved; an empty queue name still needs a topic.
  if (topic === '' || topic === '.' || topic === '..') topic = `_${topic.replaceAll('.', '2e')}`;
  if (topic.length > maxTopicLength) {
    const hash = createHash('sha256').update(queue).digest('hex').slice(0, 16);
    topic = `${topic.slice(0, maxTopicLength - hash.length - 1)}-${hash}`;
  }
  return topic;
}

/** The consumer group that consumes queue `queue`: one group per queue, so every worker on it shares the work. */
export function groupForQueue(queue: string, prefix: string): string {
  return `${prefix}${queue}`;
}
