// Starts librdkafka's mock Kafka cluster (see tq-kafka-mock.c) for tests on machines without
// Kafka or Docker. The integration harness imports this when TQ_TEST_KAFKA_BROKERS is unset:
// keep the `startKafkaMock` signature stable.
import { spawn, execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
export const kafkaMockBinary = join(here, 'tq-kafka-mock');

let building;

/** Builds the launcher binary if it is missing (gcc + librdkafka-dev). */
export async function buildKafkaMock() {
  try {
    await access(kafkaMockBinary, constants.X_OK);
    return kafkaMockBinary;
  } catch {
    building ??= promisify(execFile)('bash', [join(here, 'build.sh')]).then(
      () => kafkaMockBinary,
      (error) => {
        building = undefined;
        throw new Error(`cannot build the Kafka mock launcher (needs gcc and librdkafka-dev): ${error.stderr || error.message}`);
      },
    );
    return building;
  }
}

/**
 * Starts a mock cluster and resolves once it listens.
 * @param {{ brokers?: number, topics?: Record<string, number> }} [options]
 *   brokers: broker count (default 1); topics: topics to pre-create, name → partitions.
 * @returns {Promise<{ bootstrap: string, url: string, adapterOptions: { createTopic: Function },
 *   createTopic(name: string, partitions?: number): Promise<void>,
 *   setBrokerDown(id: number): Promise<void>, setBrokerUp(id: number): Promise<void>, stop(): Promise<void> }>}
 */
export async function startKafkaMock({ brokers = 1, topics = {}, apiVersions = {} } = {}) {
  const binary = await buildKafkaMock();
  const args = ['--brokers', String(brokers)];
  for (const [name, partitions] of Object.entries(topics)) args.push('--topic', `${name}:${partitions}`);
  for (const [key, [min, max]] of Object.entries(apiVersions)) args.push('--api-version', `${key}:${min}:${max}`);
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const lines = createInterface({ input: child.stdout });
  const pending = [];
  let resolveBootstrap;
  let rejectBootstrap;
  const bootstrapLine = new Promise((resolve, reject) => {
    resolveBootstrap = resolve;
    rejectBootstrap = reject;
  });
  child.once('error', (error) => rejectBootstrap(error));
  void exited.then(({ code, signal }) => {
    const error = new Error(`tq-kafka-mock exited (code ${code}, signal ${signal})`);
    rejectBootstrap(error);
    for (const waiter of pending.splice(0)) waiter.reject(error);
  });
  lines.on('line', (line) => {
    if (line.startsWith('bootstrap ')) return resolveBootstrap(line.slice('bootstrap '.length).trim());
    const waiter = pending.shift();
    if (!waiter) return;
    if (line === 'ok') waiter.resolve();
    else waiter.reject(new Error(`tq-kafka-mock: ${line}`));
  });

  // Commands are answered in order, one line each.
  const command = (text) =>
    new Promise((resolve, reject) => {
      pending.push({ resolve, reject });
      child.stdin.write(`${text}\n`);
    });

  const bootstrap = await bootstrapLine;
  const [first, ...rest] = bootstrap.split(',');
  const createTopic = (name, partitions = 1) => {
    if (/\s/.test(name)) return Promise.reject(new Error(`topic name with whitespace: ${name}`));
    return command(`topic ${name} ${partitions}`);
  };
  let stopping;
  return {
    bootstrap,
    // What @tq/kafka needs on the mock: no idempotent producer (no InitProducerId for kafkajs)
    // and topics created through the launcher (no CreateTopics).
    url: `kafka://${first}?idempotent=false${rest.length ? `&brokers=${rest.join(',')}` : ''}`,
    adapterOptions: { createTopic },
    createTopic,
    setBrokerDown: (id) => command(`down ${id}`),
    setBrokerUp: (id) => command(`up ${id}`),
    stop: () => {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      })();
      return stopping;
    },
  };
}
