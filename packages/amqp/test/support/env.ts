import { connect, type ChannelModel } from 'amqplib';

/**
 * The RabbitMQ the tests use: TQ_TEST_AMQP_URL, else the local server's "tq_test" vhost
 * (created by .ci/setup.d/amqp.sh and by test/support/global-setup.ts).
 */
export const amqpUrl = process.env.TQ_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/tq_test';

/** A plain amqplib connection for inspecting and cleaning the broker from tests. */
export function adminConnection(): Promise<ChannelModel> {
  return connect(amqpUrl);
}

/** Deletes queues (and the same-named exchanges tq declares for them); missing ones are fine. */
export async function deleteQueues(names: readonly string[]): Promise<void> {
  const connection = await adminConnection();
  try {
    for (const name of names) {
      // A failed delete closes the channel: one channel per operation.
      for (const op of ['queue', 'exchange'] as const) {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        try {
          if (op === 'queue') await channel.deleteQueue(name);
          else await channel.deleteExchange(name);
          await channel.close();
        } catch {
          // Already gone.
        }
      }
    }
  } finally {
    await connection.close();
  }
}
