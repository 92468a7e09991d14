/** Canvas interop with Python Celery on RabbitMQ with the Redis result backend (see ../redis/canvas-interop-suite.ts). */
import amqpAdapter from '@tq/amqp';
import redisAdapter from '@tq/redis';
import { describeCanvasInterop } from '../redis/canvas-interop-suite.js';
import { amqpUrl, deleteQueues, ensureVhost, redisBackendUrl } from './interop-support.js';

describeCanvasInterop({
  label: 'RabbitMQ + Redis backend',
  redisUrl: redisBackendUrl,
  brokerUrl: amqpUrl,
  adapters: [amqpAdapter, redisAdapter],
  deleteQueues,
  prepare: ensureVhost,
});
