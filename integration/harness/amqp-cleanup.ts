import { connect } from 'amqplib';

/** Deletes queues (and the same-named exchanges tq declares for them) the kit used; missing ones are fine. */
export async function deleteAmqpQueues(url: string, names: readonly string[]): Promise<void> {
  const connection = await connect(url);
  try {
    for (const name of names) {
      // A failed delete closes its channel: one channel per operation.
      for (const kind of ['queue', 'exchange'] as const) {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        try {
          if (kind === 'queue') await channel.deleteQueue(name);
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
