/**
 * @tq/amqp — RabbitMQ (AMQP 0-9-1, amqplib) broker and Celery's rpc:// result backend.
 *
 * URL: amqp[s]://[user[:password]@]host[:port][/vhost][?param=value&…]
 *   vhost: the path without its leading slash, percent-encoded ("/" is the default; "%2F" too).
 *   params: heartbeat (s, default 10), confirmTimeout (ms, default 10000), frameMax,
 *   connectTimeout (ms, default 10000), queueType (classic |
 *   quorum), maxPriority (x-max-priority, default none), deadLetter (1 → "<queue>.dead"),
 *   deadLetterExchange (name), resultExpires (ms, rpc reply queue x-expires, default 1 day).
 *   TLS material (ca, cert, key, passphrase, servername, rejectUnauthorized) goes in the
 *   adapter options: `brokerOptions: { tls: {...} }`, never in the URL.
 * rpc://[user[:password]@host[:port][/vhost]] — Celery's rpc backend. A bare rpc:// uses
 *   `resultBackendOptions.brokerUrl` (an amqp:// URL), else amqp://guest:guest@localhost:5672/.
 *   Results reach the client that sent the task through its reply queue (readable by that
 *   client only, as in Celery); records stored without reply_to go to per-task queues any
 *   client can read. Backend capabilities: watch (replies pushed), expiry (record TTL).
 *
 * Capabilities: delayedDelivery yes (a durable cascade of TTL queues tq.delay.00…27 dead-lettering
 * back to the target queue, 16 ms steps, ≈49.7 days per pass, no plugin: delay-levels.ts), priority 0..9 only with
 * maxPriority set (Celery declares no x-max-priority by default), broadcast yes (fanout
 * exchanges), redelivery of unacked messages when a consumer's channel or connection dies,
 * no redelivery window (RabbitMQ's consumer_timeout, 30 min by default, closes a channel that
 * holds a message longer; the consumer then recovers and the message is redelivered),
 * dead-lettering with deadLetter=1, purge yes, no message size limit of its own.
 *
 * Declarations are Celery's: exchange <queue> (direct, durable), queue <queue> (durable),
 * binding <queue> → <queue>; tasks are published to the default exchange with routing key
 * <queue>, with Celery's properties and header types.
 *
 * Guarantees: publish resolves after the publisher confirm (the message is in the queue);
 * at-least-once delivery with manual acks; per-queue FIFO for one consumer without priorities;
 * after a lost connection the adapter reconnects with backoff (100 ms → 5 s), re-declares its
 * queues and resumes consuming; deliveries of the dead connection are redelivered by
 * RabbitMQ and their ack/reject becomes a no-op.
 */
import { ConfigError, type TqAdapter } from '@tq/core/adapter';
import { AmqpBroker } from './amqp-broker.js';
import { parseAmqpOptions } from './options.js';
import { RpcResultBackend } from './rpc-result-backend.js';

export { AmqpBroker } from './amqp-broker.js';
export { RpcResultBackend } from './rpc-result-backend.js';
export { parseAmqpOptions, type AmqpOptions, type AmqpTlsOptions, type AmqpQueueType } from './options.js';
export { deadLetterQueueName, taskQueueArguments } from './topology.js';

const defaultRpcBrokerUrl = 'amqp://guest:guest@localhost:5672/';

/** rpc:// → the amqp(s):// URL to connect to: its own host when given, else options.brokerUrl. */
function rpcConnectionUrl(url: URL, options: Readonly<Record<string, unknown>>): URL {
  if (url.hostname) {
    const amqp = new URL(url.toString().replace(/^rpc:/i, 'amqp:'));
    return amqp;
  }
  const brokerUrl = options.brokerUrl ?? defaultRpcBrokerUrl;
  if (typeof brokerUrl !== 'string' || !/^amqps?:\/\//i.test(brokerUrl)) {
    throw new ConfigError([{ path: 'resultBackendOptions.brokerUrl', message: 'a bare rpc:// needs an amqp:// or amqps:// broker URL' }]);
  }
  const amqp = new URL(brokerUrl);
  // Parameters on the rpc:// URL (resultExpires, …) apply on top of the broker URL's.
  for (const [key, value] of url.searchParams) amqp.searchParams.set(key, value);
  return amqp;
}

const amqpAdapter: TqAdapter = {
  name: 'amqp',
  schemes: ['amqp', 'amqps', 'rpc'],
  createBroker(url, options) {
    if (url.protocol === 'rpc:') {
      throw new ConfigError([{ path: 'broker', message: 'rpc:// is a result backend; use amqp:// or amqps:// for the broker' }]);
    }
    return new AmqpBroker(parseAmqpOptions(url, options));
  },
  createResultBackend(url, options) {
    if (url.protocol !== 'rpc:') {
      throw new ConfigError([{ path: 'resultBackend', message: 'the AMQP adapter provides the rpc:// result backend; write rpc:// instead of amqp://' }]);
    }
    const { brokerUrl: _ignored, ...rest } = options;
    return new RpcResultBackend(parseAmqpOptions(rpcConnectionUrl(url, options), rest));
  },
};

export default amqpAdapter;
