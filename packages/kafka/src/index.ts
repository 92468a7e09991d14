/**
 * kafka:// — the Kafka broker adapter for tq, on kafkajs. Broker only: store results in
 * another backend (redis://, nats://, memory://), e.g.
 *   createApp({ broker: 'kafka://127.0.0.1:9092', resultBackend: 'redis://127.0.0.1:6379/1', adapters: [kafka, redis] })
 *
 * URL: kafka[+ssl]://[user:password@]host:port[?brokers=host2:port,host3:port][&clientId=tq]
 *      [&partitions=1][&replicationFactor=-1][&groupIdPrefix=tq.][&sasl=plain|scram-sha-256|scram-sha-512]
 *      [&idempotent=true][&topicCreation=admin|auto|none][&deadLetterSuffix=.dead][&maxMessageBytes=1000000]
 *   kafka+ssl:// turns TLS on (brokerOptions.ssl takes node:tls options: ca, cert, key, servername);
 *   user:password in the URL means SASL (plain unless ?sasl= says otherwise); brokerOptions.sasl
 *   takes any kafkajs SASL object (oauthbearer, aws). WHATWG URLs cannot hold several host:port
 *   pairs, hence ?brokers= (or brokerOptions.brokers, or kafka://a,b,c:9092 when ports match).
 *
 * Layout: queue q → topic q (characters Kafka forbids escaped as _hex), `partitions` partitions;
 *   one consumer group per queue, `tq.q`; reject(false) → topic `q.dead`.
 * Capabilities: dead letter, purge (moves an idle group past everything), queue counts (group
 *   lag, queue-stats.ts), redelivery of unfinished work when a consumer leaves or dies (group
 *   rebalance). FIFO only with 1 partition.
 *   Delayed delivery through delay topics tq.delay.<ms> (delay-topics.ts); no priority, no broadcast.
 * Guarantees: at-least-once. A publish resolves once all in-sync replicas have it (acks=all,
 *   idempotent producer). Several messages of a partition run at once; only the highest
 *   contiguous completed offset is committed, and completed offsets above it ride in the commit
 *   metadata, so a crash redelivers exactly the unfinished messages. reject(true) appends a copy
 *   to the end of the topic (Kafka cannot requeue in place). Celery headers and properties ride
 *   in one JSON Kafka header, `tq` (src/headers.ts).
 */
import type { TqAdapter } from '@tq/core/adapter';
import { KafkaBroker } from './kafka-broker.js';
import { parseKafkaOptions, parseKafkaUrl } from './options.js';

export { KafkaBroker } from './kafka-broker.js';
export { parseKafkaOptions, parseKafkaUrl, type KafkaOptions, type KafkaSaslMechanism, type TopicCreator } from './options.js';
export { topicForQueue, groupForQueue } from './topics.js';
export { delayLevelsMs, delayTopic } from './delay-topics.js';
export { OffsetTracker } from './offset-tracker.js';

const kafkaAdapter: TqAdapter = {
  name: 'kafka',
  schemes: ['kafka', 'kafka+ssl'],
  parseUrl: parseKafkaUrl,
  createBroker(url, options) {
    return new KafkaBroker(parseKafkaOptions(url, options));
  },
};

export default kafkaAdapter;
