import { describeAdapter } from '@tq/conformance';
import amqp from '../src/index.js';
import { amqpUrl, deleteQueues } from './support/env.js';

const rpcUrl = amqpUrl.replace(/^amqps?:/, 'rpc:');

// Celery's default declarations (no x-max-priority, no dead-lettering): what interop needs.
describeAdapter(amqp, { url: amqpUrl, resultBackendUrl: rpcUrl, deleteQueues });
