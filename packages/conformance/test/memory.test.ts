/**
 * The kit's self-test: the whole suite on memory://, the reference adapter. For memory,
 * closing a MemoryBroker instance is a dead connection (its unacked deliveries return), so
 * that is the cutConnection hook; there is no TCP endpoint, so proxy-based fault tests skip.
 */
import { createMemoryAdapter } from '@tq/core/adapter';
import { describeAdapter } from '../src/index.js';

describeAdapter(createMemoryAdapter(), {
  url: 'memory://conformance-self-test',
  cutConnection: (broker) => broker.close(),
});
