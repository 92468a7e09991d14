import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';

/**
 * A single-node KRaft Kafka in Docker. The host port is fixed so the advertised listener
 * (what clients reconnect to after reading metadata) is reachable from the host.
 */
export async function startKafkaContainer(hostPort = 19092): Promise<{ url: string; stop(): Promise<void> }> {
  const container: StartedTestContainer = await new GenericContainer('apache/kafka:3.9.0')
    .withExposedPorts({ container: hostPort, host: hostPort })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `PLAINTEXT://:${hostPort},CONTROLLER://:9093`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${hostPort}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .withStartupTimeout(120_000)
    .start();
  return {
    url: `kafka://127.0.0.1:${hostPort}?sessionTimeoutMs=6000&heartbeatIntervalMs=500&maxWaitTimeMs=50`,
    stop: async () => {
      await container.stop();
    },
  };
}
