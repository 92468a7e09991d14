// Where each broker is. Environment variables win (the same ones the integration harness
// reads), then the local default ports. Kafka without TQ_TEST_KAFKA_BROKERS runs on librdkafka's
// mock cluster, one fresh cluster per scenario process.
import { createConnection } from 'node:net';

export const brokerNames = ['redis', 'amqp', 'nats', 'kafka'];

/** Redis databases of their own, so the bench never touches keys of other runs: queues in 12, results in 13. */
export const redisBrokerUrl = process.env.TQ_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/12';
export const redisResultUrl = process.env.TQ_BENCH_REDIS_RESULT_URL ?? 'redis://127.0.0.1:6379/13';
export const amqpUrl = process.env.TQ_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const natsUrl = process.env.TQ_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
export const kafkaBrokers = process.env.TQ_TEST_KAFKA_BROKERS;

export function tcpAnswers(host, port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function hostPort(url, defaultPort) {
  const parsed = new URL(url);
  return [parsed.hostname, Number(parsed.port || defaultPort)];
}

/** Whether a broker can be benchmarked here, and why not. */
export async function brokerAvailable(name) {
  switch (name) {
    case 'redis':
      return (await tcpAnswers(...hostPort(redisBrokerUrl, 6379))) || `no Redis at ${new URL(redisBrokerUrl).host}`;
    case 'amqp':
      return (await tcpAnswers(...hostPort(amqpUrl, 5672))) || `no RabbitMQ at ${new URL(amqpUrl).host}`;
    case 'nats':
      return (await tcpAnswers(...hostPort(natsUrl, 4222))) || `no NATS at ${new URL(natsUrl).host}`;
    case 'kafka': {
      if (kafkaBrokers) {
        const [host, port] = kafkaBrokers.split(',')[0].split(':');
        return (await tcpAnswers(host, Number(port ?? 9092))) || `no Kafka at ${kafkaBrokers}`;
      }
      try {
        const { buildKafkaMock } = await import('../../kafka-mock/launch.mjs');
        await buildKafkaMock();
        return true;
      } catch (error) {
        return `no TQ_TEST_KAFKA_BROKERS and the mock cluster cannot be built: ${error.message}`;
      }
    }
    default:
      return `unknown broker ${name}`;
  }
}

/**
 * A Kafka cluster for one scenario: { brokers: ['host:port'], url, idempotent, createTopic?, stop() }.
 * The mock cannot create topics through the admin API, so its launcher's createTopic is passed on.
 */
export async function openKafka() {
  if (kafkaBrokers) {
    const brokers = kafkaBrokers.split(',').map((s) => s.trim());
    return { brokers, url: kafkaUrl(brokers, true), idempotent: true, createTopic: undefined, stop: async () => undefined, source: 'TQ_TEST_KAFKA_BROKERS' };
  }
  const { startKafkaMock } = await import('../../kafka-mock/launch.mjs');
  const mock = await startKafkaMock();
  const brokers = mock.bootstrap.split(',');
  // The mock answers no InitProducerId: the producer cannot be idempotent there.
  return { brokers, url: kafkaUrl(brokers, false), idempotent: false, createTopic: mock.createTopic, stop: () => mock.stop(), source: 'librdkafka mock cluster' };
}

function kafkaUrl([first, ...rest], idempotent) {
  return `kafka://${first}?idempotent=${idempotent}${rest.length ? `&brokers=${rest.join(',')}` : ''}`;
}
