import { describeAckReject, describeAdapter, describeOrdering, describePublishConsume, describeRedelivery, type BrokerFactory } from '@tq/conformance';
import { describe } from 'vitest';
import amqp from '../src/index.js';
import { amqpUrl, deleteQueues } from './support/env.js';

function withParams(url: string, params: Record<string, string>): string {
  const parsed = new URL(url);
  for (const [key, value] of Object.entries(params)) parsed.searchParams.set(key, value);
  return parsed.toString();
}

// Celery's default declarations (no x-max-priority, no dead-lettering): what interop needs.
describeAdapter(amqp, { url: amqpUrl, resultBackendUrl: amqpUrl.replace(/^amqps?:/, 'rpc:'), deleteQueues });

const createBroker: BrokerFactory = (url) => amqp.createBroker!(url, {});

// The opt-in declarations unlock the capability-gated groups (priority, dead-lettering).
describe('declared with maxPriority=10, deadLetter=1', () => {
  const options = { url: withParams(amqpUrl, { maxPriority: '10', deadLetter: '1' }), deleteQueues };
  describePublishConsume(createBroker, options);
  describeAckReject(createBroker, options);
  describeOrdering(createBroker, options);
});

describe('declared as quorum queues with deadLetter=1', () => {
  const options = { url: withParams(amqpUrl, { queueType: 'quorum', deadLetter: '1' }), deleteQueues };
  describePublishConsume(createBroker, options);
  describeAckReject(createBroker, options);
  describeRedelivery(createBroker, options);
});
