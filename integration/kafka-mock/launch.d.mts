/** A running librdkafka mock cluster (see tq-kafka-mock.c). */
export interface KafkaMock {
  /** Comma-separated host:port list of the mock brokers. */
  readonly bootstrap: string;
  /** A @tq/kafka URL for this cluster: kafka://first?idempotent=false[&brokers=…] (the mock has no InitProducerId for kafkajs). */
  readonly url: string;
  /** @tq/kafka brokerOptions for this cluster: topics are created through the launcher (no CreateTopics). */
  readonly adapterOptions: { readonly createTopic: (topic: string, partitions: number) => Promise<void> };
  /** Creates a topic (the mock has no CreateTopics admin API). */
  createTopic(name: string, partitions?: number): Promise<void>;
  /** Disconnects a broker (-1 = all) and refuses new connections; data is kept. */
  setBrokerDown(id: number): Promise<void>;
  /** Accepts connections again. */
  setBrokerUp(id: number): Promise<void>;
  /** Terminates the cluster (all data is lost). */
  stop(): Promise<void>;
}

export interface KafkaMockOptions {
  /** Broker count; default 1. */
  readonly brokers?: number;
  /** Topics to create at start, name → partitions. */
  readonly topics?: Readonly<Record<string, number>>;
}

export declare const kafkaMockBinary: string;
export declare function buildKafkaMock(): Promise<string>;
export declare function startKafkaMock(options?: KafkaMockOptions): Promise<KafkaMock>;
