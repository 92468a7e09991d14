import { describe } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { describeAckReject } from './ack-reject.js';
import { describeBroadcast } from './broadcast.js';
import { describeClose } from './close.js';
import { describeCompetingConsumers } from './competing-consumers.js';
import { describeDelayedDelivery } from './delayed.js';
import { describeLiveness } from './liveness.js';
import { describeManyQueues } from './many-queues.js';
import { describeOrdering } from './ordering.js';
import { describeOutage } from './outage.js';
import { describePrefetch } from './prefetch.js';
import { describePublishConsume } from './publish-consume.js';
import { describePublishDeduplication } from './publish-deduplication.js';
import { describePurge } from './purge.js';
import { describeQueueStats } from './queue-stats.js';
import { describeRedelivery } from './redelivery.js';
import { describeTransactionalPublish } from './transactional-publish.js';

export {
  describeAckReject,
  describeBroadcast,
  describeClose,
  describeCompetingConsumers,
  describeDelayedDelivery,
  describeLiveness,
  describeManyQueues,
  describeOrdering,
  describeOutage,
  describePrefetch,
  describePublishConsume,
  describePublishDeduplication,
  describePurge,
  describeQueueStats,
  describeRedelivery,
  describeTransactionalPublish,
};

/** Every broker behaviour group, in the order they are registered. */
export const brokerGroups = [
  describePublishConsume,
  describeAckReject,
  describeRedelivery,
  describePrefetch,
  describeOrdering,
  describeDelayedDelivery,
  describePurge,
  describeQueueStats,
  describeTransactionalPublish,
  describePublishDeduplication,
  describeBroadcast,
  describeClose,
  describeCompetingConsumers,
  describeManyQueues,
  describeOutage,
  describeLiveness,
] as const;

/**
 * Registers the whole broker suite. `factory` is called for every test (and for every extra
 * connection a test needs) and must return a fresh, unconnected Broker.
 */
export function describeBroker(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('broker', () => {
    for (const group of brokerGroups) group(factory, options);
  });
}
